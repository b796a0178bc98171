// Chat templates rendered natively. Each render below produces, byte for byte,
// what the model's published Jinja template renders under Hugging Face's
// settings (trim_blocks, lstrip_blocks); tools/reference/chat_templates.py holds
// those template strings and the test compares the two.
#include <array>
#include <utility>

#include "tern/chat.h"
#include "tern/error.h"

namespace tern {
namespace {

using Kind = ChatTemplate::Kind;

constexpr std::array<std::pair<Kind, std::string_view>, 10> kNames = {{
    {Kind::Llama3, "llama3"},
    {Kind::ChatMl, "chatml"},
    {Kind::Falcon3, "falcon3"},
    {Kind::Bitnet, "bitnet"},
    {Kind::Llama2, "llama2"},
    {Kind::Zephyr, "zephyr"},
    {Kind::Gemma, "gemma"},
    {Kind::Phi3, "phi3"},
    {Kind::Plain, "plain"},
    {Kind::Continue, "continue"},
}};

// Jinja's trim / Python's str.strip() for the whitespace text actually holds.
std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\n\r\v\f";
  const auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// Zephyr ends every message with eos_token, Falcon3 only the assistant's:
// look for eos_token in the template text that follows '<|user|>'.
bool user_turn_ends_with_eos(std::string_view jinja) {
  const auto user = jinja.find("<|user|>");
  const auto next = jinja.find("<|", user + 1);
  return contains(jinja.substr(user, next == std::string_view::npos ? std::string_view::npos : next - user),
                  "eos_token");
}

void render_llama3(std::span<const ChatMessage> m, std::string_view bos, std::string& out) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i == 0) out += bos;
    ((out += "<|start_header_id|>") += m[i].role) += "<|end_header_id|>\n\n";
    (out += trim(m[i].content)) += "<|eot_id|>";
  }
}

void render_bitnet(std::span<const ChatMessage> m, std::string_view bos, std::string& out) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i == 0) out += bos;
    const std::string_view role = m[i].role == "system" ? "System: " : m[i].role == "user" ? "User: " : "Assistant: ";
    ((out += role) += trim(m[i].content)) += "<|eot_id|>";
  }
}

void render_falcon3(std::span<const ChatMessage> m, std::string_view eos, std::string& out) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i].role == "assistant") {
      ((out += "<|assistant|>\n") += m[i].content) += eos;
      if (i + 1 < m.size()) out += '\n';
    } else {
      ((((out += "<|") += m[i].role) += "|>\n") += m[i].content) += '\n';
    }
  }
}

void render_zephyr(std::span<const ChatMessage> m, std::string_view eos, std::string& out) {
  for (const ChatMessage& msg : m) ((((((out += "<|") += msg.role) += "|>\n") += msg.content) += eos) += '\n');
}

void render_phi3(std::span<const ChatMessage> m, std::string& out) {
  for (const ChatMessage& msg : m) {
    if (msg.role == "system" && msg.content.empty()) continue;
    ((((out += "<|") += msg.role) += "|>\n") += msg.content) += "<|end|>\n";
  }
}

// LLaMA-2 and Gemma have no system turn: the system prompt joins the first user message.
std::vector<ChatMessage> fold_system(std::span<const ChatMessage> m, std::string_view before, std::string_view after) {
  std::vector<ChatMessage> out(m.begin(), m.end());
  if (out.size() >= 2 && out[0].role == "system") {
    out[1].content = std::string(before) + out[0].content + std::string(after) + out[1].content;
    out.erase(out.begin());
  }
  return out;
}

void render_llama2(std::span<const ChatMessage> messages, std::string_view bos, std::string_view eos,
                   std::string& out) {
  for (const ChatMessage& msg : fold_system(messages, "<<SYS>>\n", "\n<</SYS>>\n\n")) {
    if (msg.role == "user") (((out += bos) += "[INST] ") += trim(msg.content)) += " [/INST]";
    else (((out += ' ') += trim(msg.content)) += ' ') += eos;
  }
}

void render_gemma(std::span<const ChatMessage> messages, std::string_view bos, std::string& out) {
  out += bos;
  for (const ChatMessage& msg : fold_system(messages, "", "\n\n")) {
    const std::string_view role = msg.role == "assistant" ? std::string_view("model") : std::string_view(msg.role);
    ((((out += "<start_of_turn>") += role) += '\n') += trim(msg.content)) += "<end_of_turn>\n";
  }
}

// Base models: "SYSTEM\n\nUser: ...\nAssistant: ...\n" (docs: README, tern chat).
void render_plain(std::span<const ChatMessage> m, std::string& out) {
  for (const ChatMessage& msg : m) {
    if (msg.role == "system") (out += trim(msg.content)) += "\n\n";
    else ((out += msg.role == "user" ? "User: " : "Assistant: ") += trim(msg.content)) += '\n';
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One running text: each turn follows the last, a space between words.
void render_continue(std::span<const ChatMessage> m, std::string& out) {
  for (const ChatMessage& msg : m) {
    if (msg.role == "user" && !out.empty() && !msg.content.empty() && !is_space(out.back()) &&
        !is_space(msg.content.front()))
      out += ' ';
    out += msg.content;
  }
}

}  // namespace

ChatTemplate ChatTemplate::recognize(std::string_view jinja) {
  if (trim(jinja).empty()) return ChatTemplate(Kind::Plain);
  if (contains(jinja, "<|start_header_id|>")) return ChatTemplate(Kind::Llama3);
  if (contains(jinja, "Assistant: ") && contains(jinja, "<|eot_id|>")) return ChatTemplate(Kind::Bitnet);
  if (contains(jinja, "<|im_start|>")) return ChatTemplate(Kind::ChatMl);
  if (contains(jinja, "[INST]")) return ChatTemplate(Kind::Llama2);
  if (contains(jinja, "<start_of_turn>")) return ChatTemplate(Kind::Gemma);
  if (contains(jinja, "<|user|>") && contains(jinja, "<|end|>")) return ChatTemplate(Kind::Phi3);
  if (contains(jinja, "<|user|>") && contains(jinja, "<|assistant|>"))
    return ChatTemplate(user_turn_ends_with_eos(jinja) ? Kind::Zephyr : Kind::Falcon3);
  fail("the model's chat template is not one tern knows; pass --chat-template NAME with one of: {}", names());
}

ChatTemplate ChatTemplate::named(std::string_view name) {
  for (const auto& [kind, n] : kNames)
    if (n == name) return ChatTemplate(kind);
  fail("unknown chat template '{}'; known: {}", name, names());
}

std::string ChatTemplate::names() {
  std::string out;
  for (const auto& [kind, n] : kNames) (out += out.empty() ? "" : ", ") += n;
  return out;
}

std::string_view ChatTemplate::name() const {
  for (const auto& [kind, n] : kNames)
    if (kind == kind_) return n;
  return "?";
}

std::string ChatTemplate::render(std::span<const ChatMessage> m, bool add_generation_prompt, std::string_view bos,
                                 std::string_view eos) const {
  std::string out;
  switch (kind_) {
    case Kind::Llama3:
      render_llama3(m, bos, out);
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case Kind::Bitnet:
      render_bitnet(m, bos, out);
      if (add_generation_prompt) out += "Assistant: ";
      break;
    case Kind::ChatMl:
      for (const ChatMessage& msg : m)
        ((((out += "<|im_start|>") += msg.role) += '\n') += msg.content) += "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case Kind::Falcon3:
      render_falcon3(m, eos, out);
      if (add_generation_prompt) out += "<|assistant|>\n";
      break;
    case Kind::Zephyr:
      render_zephyr(m, eos, out);
      if (add_generation_prompt) out += "<|assistant|>\n";
      break;
    case Kind::Phi3:
      render_phi3(m, out);
      out += add_generation_prompt ? std::string_view("<|assistant|>\n") : eos;
      break;
    case Kind::Llama2: render_llama2(m, bos, eos, out); break;
    case Kind::Gemma:
      render_gemma(m, bos, out);
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      break;
    case Kind::Continue: render_continue(m, out); break;
    case Kind::Plain:
      render_plain(m, out);
      if (add_generation_prompt) out += "Assistant:";
      break;
  }
  return out;
}

std::vector<std::string> ChatTemplate::end_of_turn_pieces() const {
  switch (kind_) {
    case Kind::Llama3:
    case Kind::Bitnet: return {"<|eot_id|>"};
    case Kind::ChatMl: return {"<|im_end|>"};
    case Kind::Gemma: return {"<end_of_turn>"};
    case Kind::Phi3: return {"<|end|>"};
    default: return {};
  }
}

std::vector<std::string> ChatTemplate::stop_strings() const {
  if (kind_ == Kind::Plain) return {"\nUser:"};
  return {};
}

}  // namespace tern
