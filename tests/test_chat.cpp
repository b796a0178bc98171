// Chat: the native template renders against jinja2 rendering the published
// template strings (tools/reference/chat_templates.py); template recognition;
// conversations far past the context on the shipped model (library and CLI);
// `tern run -i` turns; a converted fixture with LLaMA-3's tokenizer and template.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared_data.h"
#include "tern/chat.h"
#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"
#include "test_support.h"

namespace tern::testing {
namespace {

using nlohmann::json;

using testing::shipped_model_path;

// jinja2's renders of every template for one conversation, plus "_templates".
json jinja_renders(const std::vector<ChatMessage>& messages, const std::string& bos, const std::string& eos) {
  TempDir dir;
  json conv = {{"bos", bos}, {"eos", eos}, {"messages", json::array()}};
  for (const auto& m : messages) conv["messages"].push_back({{"role", m.role}, {"content", m.content}});
  std::ofstream(dir / "conv.json") << conv.dump();
  const auto r = run_command(python() + " " + reference_tool("chat_templates.py") + " " + (dir / "conv.json").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

const std::vector<std::vector<ChatMessage>>& conversations() {
  static const std::vector<std::vector<ChatMessage>> all = {
      {{"system", "You are a terse assistant."},
       {"user", "  Hello there!  "},
       {"assistant", "Hi. What do you need?"},
       {"user", "Two lines:\nfirst\nsecond\n"},
       {"assistant", " Done \n"},
       {"user", "caf\xC3\xA9 \xF0\x9F\xA6\x99 <b>ok</b>"}},
      {{"user", "No system prompt here."}, {"assistant", "Fine."}, {"user", "Again?"}},
      {{"system", "Answer in French."}, {"user", "Good morning"}},
  };
  return all;
}

std::vector<std::string> jinja_template_names() {
  return {"llama3", "chatml", "falcon3", "bitnet", "llama2", "zephyr", "gemma", "phi3"};
}

}  // namespace

TEST(ChatTemplate, NativeRenderEqualsJinja2ForEveryTemplate) {
  for (const auto& [bos, eos] :
       std::vector<std::pair<std::string, std::string>>{{"<|begin_of_text|>", "<|end_of_text|>"}, {"<s>", "</s>"}}) {
    for (const auto& conv : conversations()) {
      const json expected = jinja_renders(conv, bos, eos);
      for (const std::string& name : jinja_template_names()) {
        SCOPED_TRACE(name + " with " + std::to_string(conv.size()) + " messages");
        EXPECT_EQ(ChatTemplate::named(name).render(conv, true, bos, eos), expected.at(name).get<std::string>());
      }
    }
  }
}

TEST(ChatTemplate, RecognizesEachPublishedTemplate) {
  const json renders = jinja_renders(conversations()[2], "<s>", "</s>");
  for (const std::string& name : jinja_template_names()) {
    const std::string jinja = renders.at("_templates").at(name).get<std::string>();
    EXPECT_EQ(ChatTemplate::recognize(jinja).name(), name);
  }
  EXPECT_EQ(ChatTemplate::recognize("").name(), "plain");
}

TEST(ChatTemplate, UnknownTemplateOrNameListsTheKnownOnes) {
  try {
    ChatTemplate::recognize("{{ messages | tojson }}");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama3, chatml"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate::named("vicuna"), Error);
}

TEST(ChatTemplate, PlainAndContinueFormats) {
  const std::vector<ChatMessage> m = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", " Hello."}, {"user", "More"}};
  EXPECT_EQ(ChatTemplate::named("plain").render(m, true, "<s>", "</s>"),
            "Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: More\nAssistant:");
  const std::vector<ChatMessage> c = {{"user", "And Moses said"}, {"assistant", ", Behold"}, {"user", "And he"}};
  EXPECT_EQ(ChatTemplate::named("continue").render(c, true, "", ""), "And Moses said, Behold And he");
}

// ---- conversations on the shipped model (256-token context) ----

TEST(ChatSession, ConversationFarPastTheContextKeepsTheSystemPrompt) {
  const Model model = Model::load(shipped_model_path());
  Context context(model, model.config().context_length);
  SamplerParams sampling;
  sampling.temperature = 0;
  const std::string system = "These are the words of the book.";
  ChatSession chat(context, sampling, ChatTemplate::named("plain"), system);
  GenerationParams params;
  params.n_predict = 60;
  int dropped = 0;
  int64_t total_prompt = 0;
  for (int turn = 0; turn < 12; ++turn) {
    const ChatTurn t =
        chat.send("And the LORD spake unto Moses, saying, turn " + std::to_string(turn), params, nullptr);
    dropped += t.dropped_messages;
    total_prompt += t.timings.n_prompt;
    ASSERT_FALSE(chat.messages().empty());
    EXPECT_EQ(chat.messages().front().role, "system");
    EXPECT_EQ(chat.messages().front().content, system);
    EXPECT_EQ(chat.messages().back().role, "assistant");
    EXPECT_LE(context.n_past(), context.n_ctx());
    // The context holds exactly the rendered prompt's tokens up to the reply.
    const auto prompt = chat.prompt_tokens(std::span(chat.messages()).first(chat.messages().size() - 1));
    ASSERT_LE(prompt.size(), static_cast<size_t>(context.n_past()));
  }
  EXPECT_GT(dropped, 0) << "12 turns of ~80 tokens must overflow 256 tokens";
  EXPECT_GT(total_prompt, model.config().context_length);
}

TEST(ChatSession, MessageLongerThanTheContextIsAnErrorAndTheChatGoesOn) {
  const Model model = Model::load(shipped_model_path());
  Context context(model, 64);
  ChatSession chat(context, SamplerParams{}, ChatTemplate::named("plain"), "");
  GenerationParams params;
  params.n_predict = 4;
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "and the LORD ";
  EXPECT_THROW(chat.send(long_text, params, nullptr), Error);
  EXPECT_TRUE(chat.messages().empty());
  EXPECT_NO_THROW(chat.send("And Moses said", params, nullptr));
}

// ---- the CLI, standard input without a terminal ----

std::string many_lines(int n, const std::string& text) {
  std::string out;
  for (int i = 0; i < n; ++i) out += text + " " + std::to_string(i) + "\n";
  return out;
}

TEST(ChatCli, ScriptedConversationFarPastTheContext) {
  TempDir dir;
  std::ofstream(dir / "in.txt") << many_lines(10, "And God said unto Noah") << "/clear\n"
                                << "In the beginning\n";
  const auto r = run_command(
      "sh -c " +
      shell_quote(shell_quote(tern_cli()) + " chat -m " + shell_quote(shipped_model_path().string()) +
                  " --system 'The book of the law.' --temp 0 -n 50 < " + shell_quote((dir / "in.txt").string())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dropped the"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("plain format"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n') >= 11, true) << r.out;
}

TEST(ChatCli, RunInteractiveSurvivesManyTurnsAndContinuesTheUsersText) {
  TempDir dir;
  std::ofstream(dir / "in.txt") << "And Moses said\nAnd the LORD\nIn the beginning\nAnd he said\nAnd it came to pass\n";
  const auto r = run_command("sh -c " + shell_quote(shell_quote(tern_cli()) + " run -i -m " +
                                                    shell_quote(shipped_model_path().string()) + " --temp 0 < " +
                                                    shell_quote((dir / "in.txt").string())));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reply cut"), std::string::npos) << "a cut reply must say so: " << r.err;
  std::istringstream replies(r.out);
  int n = 0;
  for (std::string line; std::getline(replies, line); ++n) {
    ASSERT_FALSE(line.empty());
    // A continuation of the user's last word: a space or punctuation first, never a word fragment.
    EXPECT_TRUE(line[0] == ' ' || std::ispunct(static_cast<unsigned char>(line[0]))) << "reply " << n << ": " << line;
  }
  EXPECT_EQ(n, 5) << r.out;
}

TEST(ChatCli, LlamaCppFlags) {
  const std::string tern = shell_quote(tern_cli()) + " ";
  const std::string model = " -m " + shell_quote(shipped_model_path().string());
  const auto version = run_command(tern + "--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("tern ", 0), 0u) << version.out;
  const auto ngl0 = run_command(tern + "run" + model + " -ngl 0 -p 'And' -n 2 --temp 0");
  EXPECT_EQ(ngl0.exit_code, 0) << ngl0.err;
  const auto ngl = run_command(tern + "run" + model + " -ngl 99 -p 'And' -n 2");
  EXPECT_NE(ngl.exit_code, 0);
  EXPECT_NE(ngl.err.find("CPU"), std::string::npos) << ngl.err;
  const auto cnv = run_command(tern + "run" + model + " -cnv");
  EXPECT_NE(cnv.exit_code, 0);
  EXPECT_NE(cnv.err.find("tern chat"), std::string::npos) << cnv.err;
  const auto seed = run_command(tern + "run" + model + " --seed -1 -p 'And' -n 2 -v");
  EXPECT_EQ(seed.exit_code, 0) << seed.err;
  EXPECT_NE(seed.err.find("seed "), std::string::npos) << seed.err;
  // --stop '\n' is a newline: greedy text that has one stops before it.
  const auto stop = run_command(tern + "run" + model + " -p 'And Moses said' -n 200 --temp 0 --stop '\\n'");
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(stop.out.find('\n'), std::string::npos) << stop.out;
  const auto help = run_command(tern + "run --help");
  EXPECT_NE(help.out.find("128"), std::string::npos) << "-n's default in --help: " << help.out;
}

// ---- a converted model with LLaMA-3's tokenizer and chat template ----

TEST(ChatFixture, Llama3PromptTokensEqualJinja2RenderTokenized) {
  TERN_REQUIRE_SHARED(json_path, "tokenizers/llama3/tokenizer.json");
  TempDir dir;
  const auto fixture =
      run_command(python() + " " + reference_tool("hf_fixture.py") + " --kind mobilellm --dtype bf16 --out " +
                  (dir / "hf").string() + " --tokenizer " + json_path.string() + " --chat-template llama3");
  ASSERT_EQ(fixture.exit_code, 0) << fixture.err;
  const auto convert =
      run_command(shell_quote(tern_cli()) + " convert " + (dir / "hf").string() + " -o " + (dir / "m.gguf").string());
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  const Model model = Model::load(dir / "m.gguf");
  const Tokenizer& tok = model.tokenizer();
  EXPECT_EQ(tok.vocab().model, TokenizerModel::ByteLevelBpe);
  EXPECT_EQ(tok.vocab().pre, "llama-bpe");
  ASSERT_EQ(ChatTemplate::recognize(tok.vocab().chat_template).name(), "llama3");

  // The reference tokenizer: tokenizer.json itself (checked by the llama.cpp vectors).
  const Tokenizer reference(load_byte_level_tokenizer_json(json_path));
  Context context(model, 256);
  ChatSession chat(context, SamplerParams{}, ChatTemplate::recognize(tok.vocab().chat_template), "Be helpful.");
  for (const auto& conv : conversations()) {
    const json jinja = jinja_renders(conv, "<|begin_of_text|>", "<|end_of_text|>");
    EXPECT_EQ(chat.prompt_tokens(conv), reference.encode(jinja.at("llama3").get<std::string>(), false, true));
  }
  // A turn stops at <|eot_id|> or EOS and is kept; the model is random, so only the mechanics are checked.
  GenerationParams params;
  params.n_predict = 8;
  const ChatTurn turn = chat.send("Hello", params, nullptr);
  EXPECT_EQ(chat.messages().size(), 3u);
  EXPECT_LE(turn.timings.n_generated, 8);
}

}  // namespace tern::testing
