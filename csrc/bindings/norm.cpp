#include "bind_util.h"

namespace fastcnn::bind {

void bind_norm(py::module_& m) {}

}  // namespace fastcnn::bind
