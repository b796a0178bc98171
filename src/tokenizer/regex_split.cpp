#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex_split.h"

#include <pcre2.h>

#include "tern/error.h"

namespace tern {

struct SplitRegex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int error) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(error, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

// Per-call matching resources: match data, and a JIT stack larger than the
// default 32 KiB; past that a match falls back to the interpreter.
struct MatchResources {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchResources(const pcre2_code* code, bool jit) {
    data = pcre2_match_data_create_from_pattern(code, nullptr);
    if (jit) {
      context = pcre2_match_context_create(nullptr);
      stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
      if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
    }
    if (!data) fail("out of memory creating regex match data");
  }
  ~MatchResources() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchResources(const MatchResources&) = delete;
  MatchResources& operator=(const MatchResources&) = delete;
};

struct Span {
  std::size_t begin, end;
  bool matched;  // a delimiter (after `invert` is applied)
};

}  // namespace

SplitRegex::SplitRegex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto code = std::make_shared<Code>();
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                             &error, &offset, nullptr);
  if (!code->code)
    fail("pre-tokenizer regex '{}' does not compile at offset {}: {}", pattern, offset, pcre2_message(error));
  code->jit = pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE) == 0;
  code_ = std::move(code);
}

void SplitRegex::split(std::string_view text, PreTokenizeStep::Behavior behavior, bool invert,
                       std::vector<std::string_view>& out) const {
  // 1. Alternate runs of matched and unmatched text.
  std::vector<Span> spans;
  MatchResources r(code_->code, code_->jit);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t pos = 0, last = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, r.data, r.context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // pathological input: the interpreter keeps its stack on the heap
      rc = pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, r.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      fail("pre-tokenizer regex '{}' failed on a text of {} bytes: {}", pattern_, text.size(), pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(r.data);
    const std::size_t begin = ov[0], end = ov[1];
    if (begin > last) spans.push_back({last, begin, invert});
    if (end > begin) {
      spans.push_back({begin, end, !invert});
      last = end;
      pos = end;
    } else {  // empty match: step over one whole character
      pos = end + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
  if (last < text.size()) spans.push_back({last, text.size(), invert});

  // 2. Pieces from spans, per behaviour. Adjacent spans are contiguous, so
  // merging is just widening the previous piece.
  using B = PreTokenizeStep::Behavior;
  const std::size_t first_new = out.size();
  bool previous_was_delimiter = false, glue_to_next = false;
  for (const Span& s : spans) {
    const std::string_view piece = text.substr(s.begin, s.end - s.begin);
    const bool can_widen = out.size() > first_new;
    const auto widen = [&] { out.back() = std::string_view(out.back().data(), out.back().size() + piece.size()); };
    if (glue_to_next && can_widen && !s.matched) {  // a delimiter joins the piece after it
      widen();
      glue_to_next = false;
    } else if (s.matched) {
      switch (behavior) {
        case B::Removed: break;
        case B::Isolated: out.push_back(piece); break;
        case B::Contiguous:
          if (previous_was_delimiter && can_widen) widen();
          else out.push_back(piece);
          break;
        case B::MergedWithPrevious:
          if (can_widen && !previous_was_delimiter) widen();
          else out.push_back(piece);
          break;
        case B::MergedWithNext:
          out.push_back(piece);
          glue_to_next = true;
          break;
      }
    } else {
      out.push_back(piece);
    }
    previous_was_delimiter = s.matched;
  }
}

}  // namespace tern
