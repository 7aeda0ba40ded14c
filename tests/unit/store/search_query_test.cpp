#include "store/search_query.hpp"

#include <gtest/gtest.h>

namespace parley::store {
namespace {

struct Case {
    std::string_view input;
    std::string_view fts5;
    std::string_view websearch;
};

TEST(SearchQuery, RendersWhatPeopleTypeForBothDatabases) {
    const Case cases[] = {
        {"stream", R"(("stream"))", "stream"},
        {"rust async", R"(("rust") AND ("async"))", "rust async"},
        {R"("tool calling" now)", R"(("tool calling") AND ("now"))", R"("tool calling" now)"},
        {"cats OR dogs", R"(("cats" OR "dogs"))", "cats or dogs"},
        {"cats or dogs fish", R"(("cats" OR "dogs") AND ("fish"))", "cats or dogs fish"},
        {"python -snake", R"((("python")) NOT ("snake"))", "python -snake"},
        {R"(python -"monty python")",
         R"((("python")) NOT ("monty python"))",
         R"(python -"monty python")"},
        {"e-mail", R"(("e mail"))", R"("e mail")"},
        {"don't", R"(("don t"))", R"("don t")"},
        {"C++ (rocks)!", R"(("C") AND ("rocks"))", "C rocks"},
        {"café Ümlaut", R"(("café") AND ("Ümlaut"))", "café Ümlaut"},
    };
    for (const auto& c : cases) {
        const auto q = parse_search_query(c.input);
        EXPECT_EQ(to_fts5(q), c.fts5) << c.input;
        EXPECT_EQ(to_websearch(q), c.websearch) << c.input;
    }
}

TEST(SearchQuery, PunctuationAndUnbalancedQuotesAreNeverAnError) {
    for (const std::string_view input :
         {"", "   ", "%", "_", "\\", "\"", "\"\"", "- -- ---", "OR", "or or OR", "\"(*)\"", "*"}) {
        const auto q = parse_search_query(input);
        EXPECT_FALSE(q.has_positive()) << input;
        EXPECT_EQ(to_fts5(q), "") << input;
    }
    // An unbalanced quote runs to the end of the input.
    const auto q = parse_search_query(R"(hello "big wide world)");
    EXPECT_EQ(to_fts5(q), R"(("hello") AND ("big wide world"))");
}

TEST(SearchQuery, FtsOperatorsTypedByPeopleAreWords) {
    const auto q = parse_search_query("NEAR AND NOT x*");
    EXPECT_EQ(to_fts5(q), R"(("NEAR") AND ("AND") AND ("NOT") AND ("x"))");
}

TEST(SearchQuery, ExclusionsAloneFindNothing) {
    const auto q = parse_search_query("-python -\"snake oil\"");
    EXPECT_FALSE(q.has_positive());
    EXPECT_EQ(to_fts5(q), "");
}

TEST(SearchQuery, OrAfterAnExclusionDoesNotJoinIt) {
    const auto q = parse_search_query("-a OR b");
    ASSERT_EQ(q.all.size(), 2U);
    EXPECT_TRUE(q.all[0].any[0].negated);
    EXPECT_EQ(to_fts5(q), R"((("b")) NOT ("a"))");
}

TEST(SearchQuery, TheLastPlainWordCanMatchAsAPrefix) {
    const auto q = parse_search_query("Conversation 1");
    EXPECT_EQ(to_fts5(q, true), R"(("Conversation") AND ("1"*))");
    EXPECT_EQ(prefix_word(q), "1");
    EXPECT_EQ(to_websearch(q, true), "Conversation");

    const auto phrase_last = parse_search_query(R"(a "b c")");
    EXPECT_EQ(prefix_word(phrase_last), std::nullopt);
    EXPECT_EQ(to_fts5(phrase_last, true), R"(("a") AND ("b c"))");

    const auto exclusion_last = parse_search_query("rust -go");
    EXPECT_EQ(prefix_word(exclusion_last), "rust");
    EXPECT_EQ(to_fts5(exclusion_last, true), R"((("rust"*)) NOT ("go"))");
    EXPECT_EQ(to_websearch(exclusion_last, true), "-go");
}

TEST(SearchQuery, KeepsAtMostTheTermLimit) {
    std::string input;
    for (int i = 0; i < 100; ++i) {
        input += "w" + std::to_string(i) + " ";
    }
    EXPECT_EQ(parse_search_query(input).all.size(), kMaxSearchTerms);
}

TEST(SnippetHtml, EscapesTextAndMarksMatches) {
    const std::string marked = std::string("<script>alert('x')</script> & a ") + kMatchStart +
                               "stream" + kMatchEnd + " \"q\"";
    EXPECT_EQ(
        snippet_html(marked),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; a <mark>stream</mark> &quot;q&quot;"
    );
}

TEST(SnippetHtml, MarksAreAlwaysBalanced) {
    EXPECT_EQ(snippet_html(std::string{kMatchStart} + "a"), "<mark>a</mark>");
    EXPECT_EQ(snippet_html(std::string{kMatchEnd} + "a"), "a");
    EXPECT_EQ(
        snippet_html(std::string{kMatchStart} + kMatchStart + "a" + kMatchEnd + kMatchEnd),
        "<mark>a</mark>"
    );
}

}  // namespace
}  // namespace parley::store
