// The knowledge base behind fetch_internal_knowledge: Markdown documents, one topic per document.
// The seed's four topics (python, async, websocket, llm) are compiled into the binary
// (src/tools/knowledge/*.md); KNOWLEDGE_DIR adds every `*.md` of a folder, the file name without
// extension being the topic, and a file replaces the built-in document of the same topic.
// Lookup: first by normalised topic ("Python", "python?", "the websockets" → python, websocket),
// then by full-text match over the documents, deterministically. Immutable once loaded: shared by
// every thread without locks.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace parley::tools {

struct KnowledgeDocument {
    std::string topic;    // "python" (built-in) or the file's name without extension
    std::string content;  // Markdown
    std::string source;   // "builtin" or the file's name ("python.md")
};

// How a lookup found its document.
enum class KnowledgeMatch { topic, full_text };

struct KnowledgeHit {
    const KnowledgeDocument* document = nullptr;  // points into the knowledge base
    KnowledgeMatch match = KnowledgeMatch::topic;
};

// Files larger than this are skipped when a folder is loaded.
inline constexpr std::size_t kMaxKnowledgeFileBytes = 256 * 1024;

class KnowledgeBase {
public:
    // The built-in documents only.
    static KnowledgeBase builtin();

    // The built-in documents plus every `*.md` (any case) directly in `dir`: regular files, not
    // hidden, valid UTF-8, at most kMaxKnowledgeFileBytes; others are skipped with a warning in
    // the log and in warnings(). Two files with the same normalised topic: the first by file name
    // wins. Blocking (reads files): call at start-up, not on an I/O thread. Errors: invalid_request
    // when `dir` is not a readable directory.
    static Result<KnowledgeBase> load(const std::filesystem::path& dir);

    // The document for `query`:
    //  1. the document whose normalised topic equals the query's (normalize_topic);
    //  2. else the best full-text match: each distinct query word (normalised, stop words such as
    //     "what", "is", "about" left out) scores 3 when it is a word of the topic and 1 when it is
    //     a word of the content; at least half of the query words must be found; ties go to the
    //     topic first in sorted order;
    //  3. else nullopt.
    std::optional<KnowledgeHit> find(std::string_view query) const;

    // The topics, sorted by normalised topic.
    std::vector<std::string> topics() const;

    // Every document, sorted by normalised topic.
    std::vector<const KnowledgeDocument*> documents() const;

    // What load() skipped, and why ("big.md: larger than 262144 bytes").
    const std::vector<std::string>& warnings() const noexcept { return warnings_; }

private:
    struct Entry {
        KnowledgeDocument document;
        std::string key;  // normalize_topic(topic)
        std::set<std::string, std::less<>> topic_words;
        std::set<std::string, std::less<>> content_words;
    };

    // Adds or replaces the document of the same normalised topic. False when the topic normalises
    // to nothing.
    bool put(KnowledgeDocument document);

    std::vector<Entry> entries_;  // sorted by key
    std::vector<std::string> warnings_;
};

// A topic as lookups compare it: lower-case ASCII, punctuation turned into word breaks, the
// articles "a", "an" and "the" removed, each word's simple plural folded ("ies" → "y", "sses" →
// "ss", a final "s" dropped unless the word ends in "ss", "us" or "is" or has three letters or
// fewer), and the words joined without spaces ("Web Sockets!" → "websocket"). Bytes of non-ASCII
// characters are kept as they are.
std::string normalize_topic(std::string_view topic);

}  // namespace parley::tools
