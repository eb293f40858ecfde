#include "fastcnn/parallel.h"
#include "fastcnn/common.h"

namespace fastcnn {

int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  FASTCNN_CHECK(n >= 1, "set_num_threads: argument 'n' got ", n, ", needed an integer >= 1");
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

}  // namespace fastcnn
