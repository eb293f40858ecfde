#include "bind_util.h"

namespace fastcnn::bind {

void bind_pool(py::module_& m) {}

}  // namespace fastcnn::bind
