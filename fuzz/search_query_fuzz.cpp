// The search box's parser and renderers on any text: never a crash, at most kMaxSearchTerms terms,
// no empty word, FTS5 strings balanced, and snippet HTML with balanced <mark> and nothing else
// unescaped.
#include <string>

#include "fuzz_input.hpp"
#include "store/search_query.hpp"

using parley::fuzz::check;
namespace store = parley::store;

namespace {

std::size_t count(std::string_view s, std::string_view what) {
    std::size_t n = 0;
    for (auto at = s.find(what); at != std::string_view::npos;
         at = s.find(what, at + what.size())) {
        ++n;
    }
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto q = store::parse_search_query(text);
    std::size_t terms = 0;
    for (const auto& clause : q.all) {
        check(!clause.any.empty(), "an empty clause");
        for (const auto& term : clause.any) {
            ++terms;
            check(!term.words.empty(), "a term without words");
            for (const auto& w : term.words) {
                check(!w.empty(), "an empty word");
            }
        }
    }
    check(terms <= store::kMaxSearchTerms, "more terms than kMaxSearchTerms");

    for (const bool prefix : {false, true}) {
        const auto fts = store::to_fts5(q, prefix);
        check(count(fts, "\"") % 2 == 0, "unbalanced quotes in an FTS5 expression");
        check(
            q.has_positive() || fts.empty(), "an FTS5 expression for a query with nothing to find"
        );
        (void)store::to_websearch(q, prefix);
    }
    if (const auto word = store::prefix_word(q)) {
        check(!word->empty(), "an empty prefix word");
    }

    const auto html = store::snippet_html(text);
    check(count(html, "<mark>") == count(html, "</mark>"), "unbalanced <mark>");
    std::string rest = html;
    for (const std::string_view tag : {"<mark>", "</mark>"}) {
        for (auto at = rest.find(tag); at != std::string::npos; at = rest.find(tag)) {
            rest.erase(at, tag.size());
        }
    }
    check(rest.find_first_of("<>\"'") == std::string::npos, "unescaped HTML in a snippet");
    return 0;
}
