// The kinema CLI's subcommands. Each lives in its own cmd_<name>.cpp and is listed once in
// the table in main.cpp. A command returns its exit status and throws kinema::Error on bad
// input; main() prints the message and maps it to exit status 1.
#pragma once

namespace kinema::cli {

using CommandFn = int (*)(int argc, char** argv);  // argv[0] is the subcommand name

// Exit status of a request the safety policy declined (a prompt, or a generated frame); errors
// exit 1. `kinema check-prompt` uses it for "refused" too.
constexpr int kRefusedExit = 5;

// Runs c and maps what it throws to the exit status: a refusal (ErrorKind::refused) 5, an
// Error 1, anything else 70; the message goes to stderr.
struct Command;
int run_command(const Command& c, int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

int cmd_version(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_world(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_verify(int argc, char** argv);
int cmd_detect(int argc, char** argv);
int cmd_sign(int argc, char** argv);
int cmd_text(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_extend(int argc, char** argv); int cmd_loop(int argc, char** argv); int cmd_join(int argc, char** argv); int cmd_edit(int argc, char** argv);
int cmd_model(int argc, char** argv);
int cmd_character(int argc, char** argv);
int cmd_scorecard(int argc, char** argv);
int cmd_vae(int argc, char** argv);
int cmd_check_prompt(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_keys(int argc, char** argv);
int cmd_convert(int argc, char** argv);
// `kinema train <model>` halves, each in its own cmd_train_<model>.cpp.
int train_vae(int argc, char** argv);
int train_text(int argc, char** argv);

}  // namespace kinema::cli
