// Whether a subscription set matches a series, remembered in a fixed number
// of slots: memory per set is bounded whatever the number of series, and a
// series whose slot was taken by another is simply matched again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "vitals/plugin.hpp"

namespace vitals::websocket {

class MatchCache {
 public:
  // `slots` entries (at least 1), allocated on first store.
  explicit MatchCache(size_t slots) : capacity_(slots < 1 ? 1 : slots) {}

  std::optional<bool> find(SeriesId id) const {
    if (slots_.empty()) return std::nullopt;
    const Slot &slot = slots_[index(id)];
    if (slot.state == State::empty || slot.id != id) return std::nullopt;
    return slot.state == State::matches;
  }
  void store(SeriesId id, bool matches) {
    if (slots_.empty()) slots_.resize(capacity_);
    slots_[index(id)] = Slot{id, matches ? State::matches : State::does_not_match};
  }
  // Memory the slots take (0 until the first store).
  size_t bytes() const { return slots_.size() * sizeof(Slot); }
  static constexpr size_t slot_bytes() { return sizeof(Slot); }

 private:
  enum class State : uint8_t { empty, matches, does_not_match };
  struct Slot {
    SeriesId id = 0;
    State state = State::empty;
  };
  // Fibonacci hashing: ids are often consecutive, and neighbours should not
  // evict each other.
  size_t index(SeriesId id) const { return static_cast<size_t>((id * 0x9E3779B97F4A7C15ull) >> 32) % capacity_; }

  size_t capacity_;
  std::vector<Slot> slots_;
};

}  // namespace vitals::websocket
