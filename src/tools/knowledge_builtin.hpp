// The knowledge base's built-in documents (src/tools/knowledge/*.md), compiled into the binary by
// CMake as raw string literals (the generated tools/knowledge_data.cpp). Internal to tools/.
#pragma once

#include <span>
#include <string_view>

namespace parley::tools {

struct BuiltinKnowledge {
    std::string_view topic;    // the file's name without extension
    std::string_view content;  // Markdown
};

// Sorted by topic.
std::span<const BuiltinKnowledge> builtin_knowledge() noexcept;

}  // namespace parley::tools
