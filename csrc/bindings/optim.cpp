#include "bind_util.h"

namespace fastcnn::bind {

void bind_optim(py::module_& m) {}

}  // namespace fastcnn::bind
