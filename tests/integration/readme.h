// The README's examples, read from README.md so that a test runs them as a
// user would copy them: they cannot drift from what the code does.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ctk::test {

// Drops a trailing `# comment` (a `#` after whitespace, outside quotes).
inline std::string strip_comment(const std::string& line) {
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
      std::string s = line.substr(0, i);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
      return s;
    }
  }
  return line;
}

// The commands of the first ```sh block under the heading `heading` (the
// whole heading line, e.g. "### Try it"): backslash continuations joined,
// comments dropped, blank lines skipped.
inline std::vector<std::string> readme_commands(const std::string& heading, std::string readme = "") {
  if (readme.empty()) readme = std::string(CTK_SOURCE_DIR) + "/README.md";
  std::ifstream in(readme);
  std::vector<std::string> out;
  bool under = false, in_block = false;
  std::string pending;
  for (std::string line; std::getline(in, line);) {
    if (!in_block && line.starts_with("#")) under = line == heading;
    if (!under) continue;
    if (line.starts_with("```")) {
      if (in_block) break;
      in_block = line == "```sh";
      continue;
    }
    if (!in_block) continue;
    std::string l = strip_comment(line);
    const bool continued = !l.empty() && l.back() == '\\';
    if (continued) l.pop_back();
    pending += l;
    if (continued) continue;
    if (pending.find_first_not_of(" \t") != std::string::npos) out.push_back(pending);
    pending.clear();
  }
  return out;
}

// Every table row of the README that documents a command: "| `cointicker …".
inline std::vector<std::string> readme_command_rows() {
  std::ifstream in(std::string(CTK_SOURCE_DIR) + "/README.md");
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("| `cointicker ")) rows.push_back(line);
  return rows;
}

}  // namespace ctk::test
