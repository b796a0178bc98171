#pragma once
// Greedy continuations printed by the real models' own reference implementations, for
// the models in ../shared (shared by the CLI and the in-process tests).

namespace tern::testing {

// What bitllama2.c's own C implementation prints for bitllama2c-3M (temperature 0),
// from an empty prompt and from "Tom and Sue went to the park" (prompt included).
constexpr const char* kReference3MEmpty =
    "Once upon a time, there was a little girl named Lily. She loved to play outside and explore the world around "
    "her. One day, she saw a big, red ball.";
constexpr const char* kReference3MPark = "Tom and Sue went to the park. They saw a big tree with a hole in it.";

// llama2.c, stories260K, "Once upon a time", temperature 0: what follows the prompt.
constexpr const char* kReference260KContinuation =
    ", there was a little girl named Lily. She loved to play outside in the park.";

}  // namespace tern::testing
