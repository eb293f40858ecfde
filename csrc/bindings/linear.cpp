#include "bind_util.h"

namespace fastcnn::bind {

void bind_linear(py::module_& m) {}

}  // namespace fastcnn::bind
