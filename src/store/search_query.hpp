// The query of a search box, parsed once and rendered for each database, so that SQLite (FTS5
// MATCH) and PostgreSQL (websearch_to_tsquery) are asked the same logical question. Pure: no I/O.
//
// Syntax, as people type it: words (all must match), "quoted phrases", OR between two terms (either
// may match; case-insensitive, like websearch_to_tsquery), -excluded words or phrases. A word with
// punctuation inside ("e-mail", "don't") is the phrase of its parts. Punctuation on its own, empty
// quotes and unbalanced quotes are never an error: they add nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::store {

// One word, or a phrase (several words that must appear in this order, adjacent).
struct SearchTerm {
    std::vector<std::string> words;  // at least one; parts of letters, digits and non-ASCII
    bool negated = false;

    bool is_phrase() const noexcept { return words.size() > 1; }
};

// Terms of which any one must match (an OR group), or a single negated term.
struct SearchClause {
    std::vector<SearchTerm> any;
};

struct SearchQuery {
    std::vector<SearchClause> all;  // every clause must match

    // Whether anything must match: a query of exclusions alone (or of nothing) finds nothing.
    bool has_positive() const noexcept;
};

// At most this many terms are kept; the rest of a very long query is ignored.
inline constexpr std::size_t kMaxSearchTerms = 32;

SearchQuery parse_search_query(std::string_view text);

// An FTS5 MATCH expression: every word a quoted FTS5 string (so nothing the user types is an FTS5
// operator), clauses joined by AND, exclusions as NOT. With `prefix_last`, the last positive
// clause, when it is one plain word, matches as a prefix ("conv" finds "conversation"). Empty when
// the query has no positive clause.
std::string to_fts5(const SearchQuery& q, bool prefix_last = false);

// The same query as input for PostgreSQL's websearch_to_tsquery. With `without_prefix_word`, the
// word prefix_word() names is left out (the caller matches it as a prefix with to_tsquery).
std::string to_websearch(const SearchQuery& q, bool without_prefix_word = false);

// The word that `prefix_last` would match as a prefix, if the query has one.
std::optional<std::string> prefix_word(const SearchQuery& q);

// Markers a store puts around matched text in a snippet: control characters, which text people
// write does not contain (if a message does, the worst outcome is a misplaced, still balanced
// <mark>).
inline constexpr char kMatchStart = '\x01';
inline constexpr char kMatchEnd = '\x02';

// Turns a snippet with kMatchStart/kMatchEnd markers into HTML: everything escaped (& < > " '),
// the marked parts wrapped in <mark>…</mark>, always balanced.
std::string snippet_html(std::string_view marked);

}  // namespace parley::store
