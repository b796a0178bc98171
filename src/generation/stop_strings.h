#pragma once
// Finds stop strings in streamed text without ever emitting part of one: text that
// could still grow into a stop string is held back until it cannot.
#include <string>
#include <string_view>
#include <vector>

namespace tern {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds generated text. Returns the text that is now safe to emit. Sets stopped()
  // when a stop string completed; the text before it has then been returned.
  std::string push(std::string_view text);
  // Text still held back (call at the end when no stop string matched).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  size_t held_back_length() const;  // longest suffix of pending_ that prefixes a stop string

  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace tern
