#include "bind_util.h"

namespace fastcnn::bind {

void bind_loss(py::module_& m) {}

}  // namespace fastcnn::bind
