#include "bind_util.h"

namespace fastcnn::bind {

void bind_act(py::module_& m) {}

}  // namespace fastcnn::bind
