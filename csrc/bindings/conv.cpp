#include "bind_util.h"

namespace fastcnn::bind {

void bind_conv(py::module_& m) {}

}  // namespace fastcnn::bind
