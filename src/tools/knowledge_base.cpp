#include "tools/knowledge_base.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <system_error>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "tools/knowledge_builtin.hpp"

namespace parley::tools {

namespace fs = std::filesystem;

namespace {

// Words that carry no topic, left out of full-text queries; written as words_of() gives them
// (plural folded: "does" is "doe", "whats" is "what"). Sorted, for binary search.
constexpr std::array<std::string_view, 39> kStopWords = {
    "a",    "about", "an",   "and", "any",  "are",  "can",         "could", "do",   "doe",
    "for",  "give",  "how",  "i",   "in",   "info", "information", "is",    "it",   "know",
    "look", "me",    "more", "of",  "on",   "or",   "please",      "some",  "tell", "that",
    "the",  "this",  "to",   "up",  "what", "when", "why",         "with",  "you",
};
static_assert(std::is_sorted(kStopWords.begin(), kStopWords.end()));

bool is_article(std::string_view w) noexcept {
    return w == "a" || w == "an" || w == "the";
}

bool is_stop_word(std::string_view w) noexcept {
    return std::binary_search(kStopWords.begin(), kStopWords.end(), w);
}

std::string fold_plural(std::string w) {
    const auto ends = [&w](std::string_view suffix) {
        return w.size() >= suffix.size() &&
               w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (w.size() > 4 && ends("ies")) {
        w.replace(w.size() - 3, 3, "y");
    } else if (ends("sses")) {
        w.erase(w.size() - 2);
    } else if (w.size() > 3 && ends("s") && !ends("ss") && !ends("us") && !ends("is")) {
        w.pop_back();
    }
    return w;
}

// Lower-case words, split at anything that is not an ASCII letter or digit (bytes of non-ASCII
// characters belong to words), each plural folded.
std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> out;
    std::string current;
    const auto flush = [&] {
        if (!current.empty()) {
            out.push_back(fold_plural(std::move(current)));
            current.clear();
        }
    };
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 'A' && c <= 'Z') {
            current.push_back(static_cast<char>(c - 'A' + 'a'));
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            current.push_back(ch);
        } else {
            flush();
        }
    }
    flush();
    return out;
}

// Reads a whole file of at most `limit` bytes; nullopt (with `why`) otherwise.
std::optional<std::string> read_small_file(
    const fs::path& path, std::size_t limit, std::string& why
) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) {
        why = "cannot read it (" + ec.message() + ")";
        return std::nullopt;
    }
    if (size > limit) {
        why = "larger than " + std::to_string(limit) + " bytes";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
        why = "cannot read it";
        return std::nullopt;
    }
    if (text.size() > limit) {
        why = "larger than " + std::to_string(limit) + " bytes";
        return std::nullopt;
    }
    return text;
}

}  // namespace

std::string normalize_topic(std::string_view topic) {
    std::string key;
    for (auto& w : words_of(topic)) {
        if (!is_article(w)) {
            key += w;
        }
    }
    return key;
}

bool KnowledgeBase::put(KnowledgeDocument document) {
    Entry e;
    e.key = normalize_topic(document.topic);
    if (e.key.empty()) {
        return false;
    }
    for (auto& w : words_of(document.topic)) {
        e.topic_words.insert(std::move(w));
    }
    for (auto& w : words_of(document.content)) {
        e.content_words.insert(std::move(w));
    }
    e.document = std::move(document);
    const auto at = std::lower_bound(
        entries_.begin(),
        entries_.end(),
        e.key,
        [](const Entry& x, const std::string& k) { return x.key < k; }
    );
    if (at != entries_.end() && at->key == e.key) {
        *at = std::move(e);
    } else {
        entries_.insert(at, std::move(e));
    }
    return true;
}

KnowledgeBase KnowledgeBase::builtin() {
    KnowledgeBase kb;
    for (const auto& b : builtin_knowledge()) {
        kb.put({std::string(b.topic), std::string(b.content), "builtin"});
    }
    return kb;
}

Result<KnowledgeBase> KnowledgeBase::load(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return make_error(
            ErrorType::invalid_request, "KNOWLEDGE_DIR " + dir.string() + " is not a directory"
        );
    }
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        return make_error(
            ErrorType::invalid_request,
            "KNOWLEDGE_DIR " + dir.string() + " cannot be read: " + ec.message()
        );
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        const auto& path = it->path();
        const auto name = path.filename().string();
        if (name.empty() || name.front() == '.' || !iequals(path.extension().string(), ".md")) {
            continue;
        }
        files.push_back(path);
    }
    if (ec) {
        return make_error(
            ErrorType::invalid_request,
            "KNOWLEDGE_DIR " + dir.string() + " cannot be read: " + ec.message()
        );
    }
    std::sort(files.begin(), files.end());

    KnowledgeBase kb = builtin();
    std::set<std::string, std::less<>> from_files;  // keys a file already set
    for (const auto& path : files) {
        const auto name = path.filename().string();
        std::string why;
        std::optional<std::string> text;
        if (!fs::is_regular_file(path, ec)) {
            why = "not a regular file";
        } else {
            text = read_small_file(path, kMaxKnowledgeFileBytes, why);
            if (text && !is_valid_utf8(*text)) {
                text.reset();
                why = "not valid UTF-8";
            }
        }
        const auto topic = path.stem().string();
        const auto key = normalize_topic(topic);
        if (text && key.empty()) {
            text.reset();
            why = "its name is no topic";
        }
        if (text && from_files.contains(key)) {
            text.reset();
            why = "another file already has the topic \"" + key + "\"";
        }
        if (!text) {
            kb.warnings_.push_back(name + ": " + why);
            log::warn("knowledge file skipped", {{"file", path.string()}, {"reason", why}});
            continue;
        }
        from_files.insert(key);
        kb.put({topic, std::move(*text), name});
    }
    return kb;
}

std::optional<KnowledgeHit> KnowledgeBase::find(std::string_view query) const {
    const auto key = normalize_topic(query);
    if (!key.empty()) {
        for (const auto& e : entries_) {
            if (e.key == key) {
                return KnowledgeHit{&e.document, KnowledgeMatch::topic};
            }
        }
    }

    std::set<std::string, std::less<>> terms;
    for (auto& w : words_of(query)) {
        if (!is_stop_word(w)) {
            terms.insert(std::move(w));
        }
    }
    if (terms.empty()) {
        return std::nullopt;
    }
    const Entry* best = nullptr;
    std::size_t best_score = 0;
    for (const auto& e : entries_) {
        std::size_t score = 0;
        std::size_t found = 0;
        for (const auto& t : terms) {
            const bool in_topic = e.topic_words.contains(t);
            const bool in_content = e.content_words.contains(t);
            score += (in_topic ? 3 : 0) + (in_content ? 1 : 0);
            found += (in_topic || in_content) ? 1 : 0;
        }
        // Strictly greater: on a tie the earlier entry (sorted by key) stays.
        if (found * 2 >= terms.size() && score > best_score) {
            best = &e;
            best_score = score;
        }
    }
    if (best == nullptr) {
        return std::nullopt;
    }
    return KnowledgeHit{&best->document, KnowledgeMatch::full_text};
}

std::vector<std::string> KnowledgeBase::topics() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) {
        out.push_back(e.document.topic);
    }
    return out;
}

std::vector<const KnowledgeDocument*> KnowledgeBase::documents() const {
    std::vector<const KnowledgeDocument*> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) {
        out.push_back(&e.document);
    }
    return out;
}

}  // namespace parley::tools
