// Characters and storyboards in the generating commands (docs/modes.md): @NAME resolution for
// generate, extend, loop, join and edit, and `kinema generate --storyboard` / [shot] prompts.
#pragma once
#include <string>

#include "kinema/pipeline.hpp"
#include "mode_cli.hpp"

namespace kinema::cli {

// Replaces the @NAME mentions of req.prompt by their descriptions and puts the characters'
// reference in req.reference, at the request's size (the model's when unset). The store is
// $KINEMA_HOME/characters, else ~/.kinema/characters. Prints what it did unless quiet.
void resolve_characters(const Pipeline& pipe, GenerateRequest& req, bool quiet);

// `kinema generate --storyboard FILE` (file non-empty) or a prompt with [shot] markers: every
// shot's prompt is checked by the policy, the shots are streamed into c.out, and
// OUT.continuity.json gets the scorecard with the cuts as seams. Returns the exit status.
int run_storyboard(ModeCli& c, const std::string& file);

}  // namespace kinema::cli
