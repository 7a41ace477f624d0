// "Did you mean ...?" for a key a config file misspells: the known name nearest to it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sipmetrics {

/// Levenshtein distance (insertions, deletions, substitutions) between `a` and `b`. Cold path.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j < row.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// ` (did you mean "NAME"?)` for the name of `known` nearest to `key`, when it is at most two
/// edits away (and nearer than a rewrite of the whole key); "" otherwise.
inline std::string did_you_mean(std::string_view key, const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  std::size_t best_distance = 3;
  for (const std::string& name : known) {
    const std::size_t d = edit_distance(key, name);
    if (d < best_distance && d < std::max(key.size(), name.size())) {
      best = &name;
      best_distance = d;
    }
  }
  return best == nullptr ? std::string() : " (did you mean \"" + *best + "\"?)";
}

}  // namespace sipmetrics
