// Type-blind element moves (copies, scatters, padding, nearest resize) never look at an element's
// value, so they run on the unsigned integer of the element's size: one instantiation per size
// serves every dtype. Header-only so that cuda/ can use it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/error.h"

namespace engine {

// Calls f(U{}) with U = uint8_t, uint16_t, uint32_t or uint64_t for bytes = 1, 2, 4 or 8; any
// other size throws engine::Error naming `what` and the size.
template <typename F>
void dispatch_word(size_t bytes, const char* what, F&& f) {
  switch (bytes) {
    case 1:
      f(uint8_t{});
      break;
    case 2:
      f(uint16_t{});
      break;
    case 4:
      f(uint32_t{});
      break;
    case 8:
      f(uint64_t{});
      break;
    default:
      ENGINE_THROW("{}: unsupported element size {} bytes (expected 1, 2, 4 or 8)", what, bytes);
  }
}

}  // namespace engine
