// Chat templates: recognizing a Jinja template string (GGUF tokenizer.chat_template)
// and rendering a conversation with each known format. The input is the template,
// then "@@@@"-separated message contents (roles cycle system, user, assistant).
#include <vector>

#include "fuzz_input.h"
#include "tern/chat.h"
#include "tern/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tern::fuzz::part;
  const auto all = tern::fuzz::as_text(data, size);
  std::vector<tern::ChatMessage> messages;
  static const char* kRoles[] = {"system", "user", "assistant"};
  for (int i = 1; i < 8 && !part(all, i).empty(); ++i)
    messages.push_back({kRoles[(i - 1) % 3], std::string(part(all, i))});
  try {
    const auto recognized = tern::ChatTemplate::recognize(part(all, 0));
    (void)recognized.render(messages, true, "<s>", "</s>");
  } catch (const tern::Error&) {}
  for (auto kind = 0; kind <= static_cast<int>(tern::ChatTemplate::Kind::Phi3); ++kind) {
    const tern::ChatTemplate t(static_cast<tern::ChatTemplate::Kind>(kind));
    try {
      (void)t.render(messages, kind % 2 == 0, "<s>", "</s>");
    } catch (const tern::Error&) {}
  }
  return 0;
}
