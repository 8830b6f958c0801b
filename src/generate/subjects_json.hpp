// The subject report as a JSON object, for the continuity scorecard (not public API).
#pragma once
#include <nlohmann/json.hpp>

#include "kinema/subjects.hpp"

namespace kinema {

nlohmann::json subjects_to_json(const SubjectReport& r);

}  // namespace kinema
