// Uses tern through the installed headers alone: loads a model, tokenizes a prompt,
// generates greedily and prints the prompt's token count and the text; then starts the
// OpenAI server (tern::server) on a free loopback port and stops it.
#include <cstdio>
#include <string>

#include "tern/error.h"
#include "tern/generator.h"
#include "tern/model.h"
#include "tern/server.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: tern_consumer MODEL.gguf PROMPT\n");
    return 2;
  }
  try {
    const tern::Model model = tern::Model::load(argv[1]);
    tern::Context context(model, 64);
    tern::SamplerParams greedy;
    greedy.temperature = 0;
    tern::Generator generator(context, greedy);
    tern::GenerationParams params;
    params.n_predict = 8;
    const auto prompt = generator.tokenize_prompt(argv[2]);
    const auto result = generator.generate(prompt, params, {});
    std::printf("prompt tokens %zu, generated %zu: %s\n", prompt.size(), result.tokens.size(), result.text.c_str());
    tern::ServerOptions options;
    options.port = 0;
    options.n_ctx = 64;
    tern::Server server(model, options);
    std::printf("server on port %d\n", server.port());
    server.shutdown();
    return result.tokens.empty() || server.port() <= 0 ? 1 : 0;
  } catch (const tern::Error& e) {
    std::fprintf(stderr, "tern_consumer: error: %s\n", e.what());
    return 1;
  }
}
