// `kinema train text ...`: the text encoder's training (masked-token prediction) lands here.
#include "commands.hpp"
#include "kinema/error.hpp"

namespace kinema::cli {

int train_text(int, char**) {
  fail("train text", "text-encoder training is not implemented yet (issue 6)");
}

}  // namespace kinema::cli
