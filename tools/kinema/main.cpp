// kinema: text-to-video engine. `kinema --help` lists the subcommands.
#include <cstdio>
#include <cstring>
#include <iterator>

#include "commands.hpp"
#include "kinema/error.hpp"

namespace kinema::cli {
namespace {

// Add new subcommands here, one line each, in the order --help shows them.
const Command kCommands[] = {
    {"generate", "text to video or image with the shipped default model (or --model DIR)", cmd_generate},
    {"extend", "continue a video (or invent what came before: --backward)", cmd_extend}, {"loop", "a seamless loop from a prompt", cmd_loop}, {"join", "a generated transition from one video into another", cmd_join}, {"edit", "restyle or change a video by prompt (SDEdit, --strength)", cmd_edit},
    {"character", "store a subject from a clip for prompts that name it as @NAME: create, list, delete", cmd_character},
    {"info", "show the engine's build, CPU features and thread count", cmd_info},
    {"version", "print the version", cmd_version},
    {"world", "procedural world: render, captions, prompt expansion, data sets, judge selftest", cmd_world},
    {"eval", "score a video against a prompt or scene spec with the world judge", cmd_eval},
    {"verify", "check a file's C2PA content credentials (exit 0 valid, 3 invalid, 4 none)", cmd_verify},
    {"detect", "was a file made by kinema? C2PA credentials, else the invisible watermark", cmd_detect},
    {"sign", "add C2PA content credentials to media files (local identity or --sign-key/--sign-cert)", cmd_sign},
    {"text", "train the tokenizer on the world's captions; show how a prompt tokenizes", cmd_text},
    {"train", "train the VAE, text encoder or DiT (checkpoints, exact resume, CSV log)", cmd_train},
    {"scorecard", "measure a model's prompt-following on held-out prompts with the world judge", cmd_scorecard},
    {"model", "assemble a model directory from trained weights (pack) or verify one (check)", cmd_model},
    {"check-prompt", "check a prompt against the safety policy and say why (exit 0 allowed, 5 refused)", cmd_check_prompt},
    {"serve", "a local Videos API (OpenAI's Sora API shape) with a durable job queue (docs/serve.md)", cmd_serve},
    {"keys", "API keys of `kinema serve`: create, list, revoke", cmd_keys},
    {"convert", "weights (safetensors or GGUF) to GGUF, matrices quantized to q8_0/q4_0/bf16/f16", cmd_convert},
    {"vae", "VAE latent statistics for normalisation; reconstruction benchmark on held-out clips", cmd_vae},
};

void print_help() {
  std::printf(
      "kinema: a local text-to-video engine\n\n"
      "usage: kinema <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\n`kinema <command> --help` explains each command's options.\n");
}

}  // namespace
}  // namespace kinema::cli

int main(int argc, char** argv) {
  using namespace kinema::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    return run_command(c, argc - 1, argv + 1);
  }
  std::fprintf(stderr, "kinema: unknown command '%s'; run `kinema --help` for the list\n", argv[1]);
  return 2;
}
