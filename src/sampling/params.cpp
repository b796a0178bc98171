// SamplerParams::validate: one-line errors naming the command-line flag.
#include <cmath>

#include "tern/error.h"
#include "tern/sampler.h"

namespace tern {

void SamplerParams::validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    fail("--temperature must be >= 0 (0 = greedy), got {}", temperature);
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("--top-p must be in (0, 1], got {}", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail("--min-p must be in [0, 1], got {}", min_p);
  if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) {
    fail("--repeat-penalty must be > 0 (1 = disabled), got {}", repeat_penalty);
  }
  if (repeat_last_n < -1) {
    fail("--repeat-last-n must be >= -1 (-1 = whole history, 0 = none), got {}", repeat_last_n);
  }
}

}  // namespace tern
