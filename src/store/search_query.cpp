#include "store/search_query.hpp"

namespace parley::store {

namespace {

// Letters and digits of ASCII, and every byte of a multi-byte UTF-8 character: what both FTS5's
// unicode61 tokenizer and PostgreSQL's parser keep inside words, near enough that a word split
// here is split the same way there (the databases re-tokenize each quoted part anyway).
bool is_word_byte(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool is_space(char ch) noexcept {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

bool is_or(std::string_view word) noexcept {
    return word.size() == 2 && (word[0] == 'o' || word[0] == 'O') &&
           (word[1] == 'r' || word[1] == 'R');
}

// The words inside `text`, split at everything that is not a word byte. A lone "or" is dropped: it
// would be an operator to websearch_to_tsquery (and an English stop word to PostgreSQL anyway).
std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && !is_word_byte(text[i])) {
            ++i;
        }
        const std::size_t start = i;
        while (i < text.size() && is_word_byte(text[i])) {
            ++i;
        }
        if (i > start) {
            out.emplace_back(text.substr(start, i - start));
        }
    }
    if (out.size() == 1 && is_or(out.front())) {
        out.clear();
    }
    return out;
}

// A raw token of the input: a run without spaces, or a quoted phrase.
struct Token {
    std::string_view text;
    bool quoted = false;
    bool negated = false;
    bool is_or = false;
};

std::vector<Token> tokenize(std::string_view text) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (is_space(text[i])) {
            ++i;
            continue;
        }
        Token t;
        while (i < text.size() && text[i] == '-') {
            t.negated = true;
            ++i;
        }
        if (i < text.size() && text[i] == '"') {
            const std::size_t start = ++i;
            while (i < text.size() && text[i] != '"') {
                ++i;
            }
            t.text = text.substr(start, i - start);  // an unbalanced quote runs to the end
            t.quoted = true;
            if (i < text.size()) {
                ++i;
            }
        } else {
            const std::size_t start = i;
            while (i < text.size() && !is_space(text[i]) && text[i] != '"') {
                ++i;
            }
            t.text = text.substr(start, i - start);
            t.is_or = !t.negated && is_or(t.text);
        }
        out.push_back(t);
    }
    return out;
}

void append_quoted(std::string& out, std::string_view word) {
    out += '"';
    for (const char ch : word) {
        if (ch == '"') {
            out += '"';
        }
        out += ch;
    }
    out += '"';
}

std::string fts5_term(const SearchTerm& t) {
    std::string joined;
    for (const auto& w : t.words) {
        if (!joined.empty()) {
            joined += ' ';
        }
        joined += w;
    }
    std::string out;
    append_quoted(out, joined);
    return out;
}

// The index of the clause prefix_word() comes from, if any.
std::optional<std::size_t> prefix_clause(const SearchQuery& q) {
    for (std::size_t i = q.all.size(); i-- > 0;) {
        const auto& c = q.all[i];
        if (c.any.size() == 1 && c.any.front().negated) {
            continue;
        }
        if (c.any.size() == 1 && !c.any.front().is_phrase()) {
            return i;
        }
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

bool SearchQuery::has_positive() const noexcept {
    for (const auto& c : all) {
        if (!c.any.empty() && !c.any.front().negated) {
            return true;
        }
    }
    return false;
}

SearchQuery parse_search_query(std::string_view text) {
    SearchQuery q;
    std::size_t terms = 0;
    bool join_next = false;  // an OR was seen after a positive term
    for (const auto& token : tokenize(text)) {
        if (terms == kMaxSearchTerms) {
            break;
        }
        if (token.is_or) {
            join_next = !q.all.empty() && !q.all.back().any.front().negated;
            continue;
        }
        SearchTerm term;
        term.words = words_of(token.text);
        term.negated = token.negated;
        if (term.words.empty()) {
            continue;  // punctuation, empty quotes: nothing to match
        }
        ++terms;
        if (join_next && !term.negated) {
            q.all.back().any.push_back(std::move(term));
        } else {
            q.all.push_back(SearchClause{{std::move(term)}});
        }
        join_next = false;
    }
    return q;
}

std::string to_fts5(const SearchQuery& q, bool prefix_last) {
    if (!q.has_positive()) {
        return {};
    }
    const auto prefix_at = prefix_last ? prefix_clause(q) : std::nullopt;
    std::string positive;
    std::string negative;
    for (std::size_t i = 0; i < q.all.size(); ++i) {
        const auto& clause = q.all[i];
        if (clause.any.front().negated) {
            if (!negative.empty()) {
                negative += " OR ";
            }
            negative += fts5_term(clause.any.front());
            continue;
        }
        if (!positive.empty()) {
            positive += " AND ";
        }
        positive += '(';
        for (std::size_t j = 0; j < clause.any.size(); ++j) {
            if (j > 0) {
                positive += " OR ";
            }
            positive += fts5_term(clause.any[j]);
            if (prefix_at && *prefix_at == i) {
                positive += '*';
            }
        }
        positive += ')';
    }
    if (negative.empty()) {
        return positive;
    }
    return "(" + positive + ") NOT (" + negative + ")";
}

std::string to_websearch(const SearchQuery& q, bool without_prefix_word) {
    const auto skip = without_prefix_word ? prefix_clause(q) : std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < q.all.size(); ++i) {
        if (skip && *skip == i) {
            continue;
        }
        const auto& clause = q.all[i];
        if (!out.empty()) {
            out += ' ';
        }
        for (std::size_t j = 0; j < clause.any.size(); ++j) {
            const auto& term = clause.any[j];
            if (j > 0) {
                out += " or ";
            }
            if (term.negated) {
                out += '-';
            }
            if (term.is_phrase()) {
                out += fts5_term(term);  // "w1 w2": the same quoting
            } else {
                out += term.words.front();
            }
        }
    }
    return out;
}

std::optional<std::string> prefix_word(const SearchQuery& q) {
    if (const auto at = prefix_clause(q)) {
        return q.all[*at].any.front().words.front();
    }
    return std::nullopt;
}

std::string snippet_html(std::string_view marked) {
    std::string out;
    out.reserve(marked.size() + 32);
    bool open = false;
    for (const char ch : marked) {
        switch (ch) {
            case kMatchStart:
                if (!open) {
                    out += "<mark>";
                    open = true;
                }
                break;
            case kMatchEnd:
                if (open) {
                    out += "</mark>";
                    open = false;
                }
                break;
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += ch;
        }
    }
    if (open) {
        out += "</mark>";
    }
    return out;
}

}  // namespace parley::store
