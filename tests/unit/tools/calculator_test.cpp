// The calculator: its grammar (a table of expressions and values) and its refusals (a table of
// expressions and the error they get), the number format, and the tool's JSON.
#include "tools/calculator.hpp"

#include <cmath>
#include <numbers>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"
#include "tools/builtins.hpp"

namespace parley::tools {
namespace {

struct Good {
    const char* expression;
    double value;
};

TEST(CalculatorTest, Grammar) {
    const Good cases[] = {
        {"1 + 2", 3},
        {"2 + 3 * 4", 14},
        {"(2 + 3) * 4", 20},
        {"10 - 4 - 3", 3},  // left-associative
        {"100 / 10 / 5", 2},
        {"7 % 3", 1},
        {"-7 % 3", -1},  // fmod keeps the dividend's sign
        {"7.5 % 2", 1.5},
        {"2 ^ 10", 1024},
        {"2 ** 10", 1024},
        {"2 ^ 3 ^ 2", 512},  // right-associative
        {"-2 ^ 2", -4},      // the sign binds looser than the power
        {"(-2) ^ 2", 4},
        {"2 ^ -1", 0.5},
        {"--3", 3},
        {"+3", 3},
        {"-(2 + 3)", -5},
        {"3 * -2", -6},
        {"1.5 + .5", 2},
        {"1e3 + 2E-1", 1000.2},
        {"1.5e+2", 150},
        {"sqrt(16)", 4},
        {"SQRT(16)", 4},
        {"abs(-3.5)", 3.5},
        {"round(2.5)", 3},
        {"round(-2.5)", -3},
        {"round(3.14159, 2)", 3.14},
        {"round(1234, -2)", 1200},
        {"floor(-1.5)", -2},
        {"ceil(1.2)", 2},
        {"min(3, 1, 2)", 1},
        {"max(3, 1, 2)", 3},
        {"max(4)", 4},
        {"pow(2, 8)", 256},
        {"cbrt(27)", 3},
        {"exp(0)", 1},
        {"ln(e)", 1},
        {"log(e ^ 2)", 2},
        {"log(8, 2)", 3},
        {"log10(1000)", 3},
        {"log2(1024)", 10},
        {"sin(0)", 0},
        {"cos(pi)", -1},
        {"atan(1) * 4", std::numbers::pi},
        {"pi", std::numbers::pi},
        {"PI * 2", 2 * std::numbers::pi},
        {"e", std::numbers::e},
        {"  \t(1 +\n 2)  ", 3},
        {"((((((((((1))))))))))", 1},
        {"sqrt(3 ^ 2 + 4 ^ 2)", 5},
        {"0.1 + 0.2", 0.30000000000000004},
    };
    for (const auto& c : cases) {
        const auto v = evaluate_expression(c.expression);
        ASSERT_TRUE(v) << c.expression << ": " << v.error().message;
        EXPECT_NEAR(*v, c.value, 1e-9 * std::max(1.0, std::fabs(c.value))) << c.expression;
    }
}

struct Bad {
    std::string expression;
    const char* error;  // a part of the message
};

TEST(CalculatorTest, Refusals) {
    const Bad cases[] = {
        {"", "the expression is empty"},
        {"   ", "the expression is empty"},
        {"1 / 0", "division by zero"},
        {"1 % 0", "division by zero"},
        {"1 / (2 - 2)", "division by zero"},
        {"0 ^ -1", "division by zero"},
        {"sqrt(-1)", "sqrt of a negative number"},
        {"ln(0)", "ln of a number that is not positive"},
        {"log(-1)", "log of a number that is not positive"},
        {"log(8, 1)", "log's base must be positive and not 1"},
        {"log10(0)", "log10 of a number that is not positive"},
        {"asin(2)", "asin of a number outside [-1, 1]"},
        {"(-8) ^ 0.5", "not a real number"},
        {"round(1, 0.5)", "round's digits must be a whole number"},
        {"10 ^ 400", "the result is too large"},
        {"1e400", "is too large"},
        {"x + 1", "unknown name \"x\" at position 1"},
        {"__import__('os')", "unknown function \"__import__\""},
        {"os.system(1)", "unknown name \"os\""},
        {"exit()", "unknown function \"exit\""},
        {"sqrt()", "sqrt takes 1 argument, got 0"},
        {"sqrt(1, 2)", "sqrt takes 1 argument, got 2"},
        {"pow(2)", "pow takes 2 arguments, got 1"},
        {"round(1, 2, 3)", "round takes 1 or 2 arguments, got 3"},
        {"min()", "min takes at least 1 argument, got 0"},
        {"1 +", "the expression ends too early"},
        {"(1 + 2", "missing ')' at the end"},
        {"1 + 2)", "unexpected ')' at position 6"},
        {"2 3", "unexpected '3' at position 3"},
        {"2x", "unexpected 'x' at position 2"},
        {"2e", "unexpected 'e' at position 2"},
        {"1 = 1", "unexpected '=' at position 3"},
        {"1;2", "unexpected ';' at position 2"},
        {"\"1\"", "unexpected '\"' at position 1"},
        {"1 + \xC3\xA9", "unexpected character at position 5"},
        {"..5", "unexpected '.' at position 1"},
        {"1.2.3", "unexpected '.' at position 4"},
        {"* 2", "unexpected '*' at position 1"},
        {std::string(33, '(') + "1" + std::string(33, ')'), "nested deeper than 32 levels"},
        {std::string(40, '-') + "1", "nested deeper than 32 levels"},
        {std::string(501, '1'), "longer than 500 characters"},
    };
    for (const auto& c : cases) {
        const auto v = evaluate_expression(c.expression);
        ASSERT_FALSE(v) << c.expression << " = " << *v;
        EXPECT_NE(v.error().message.find(c.error), std::string::npos)
            << c.expression << ": " << v.error().message;
        EXPECT_EQ(v.error().type, ErrorType::invalid_request);
    }
}

TEST(CalculatorTest, DeepPowersAndFunctionsAreRefused) {
    std::string powers = "2";
    for (int i = 0; i < 40; ++i) {
        powers += "^1";
    }
    EXPECT_FALSE(evaluate_expression(powers));
    std::string calls = "1";
    for (int i = 0; i < 40; ++i) {
        calls = "abs(" + calls + ")";
    }
    const auto v = evaluate_expression(calls);
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("nested deeper"), std::string::npos);
    // At the limit is fine.
    EXPECT_TRUE(evaluate_expression(std::string(32, '(') + "1" + std::string(32, ')')));
    // 500 characters are allowed.
    std::string long_sum = "1";
    while (long_sum.size() + 2 <= kMaxExpressionLength) {
        long_sum += "+1";
    }
    EXPECT_TRUE(evaluate_expression(long_sum));
}

TEST(CalculatorTest, NumberFormat) {
    EXPECT_EQ(format_number(4), "4");
    EXPECT_EQ(format_number(-4), "-4");
    EXPECT_EQ(format_number(-0.0), "0");
    EXPECT_EQ(format_number(0.1 + 0.2), "0.3");
    EXPECT_EQ(format_number(2.5), "2.5");
    EXPECT_EQ(format_number(1e20), "1e+20");
    EXPECT_EQ(format_number(1.5e-7), "1.5e-07");
    EXPECT_EQ(format_number(std::numbers::pi), "3.14159265358979");
    EXPECT_EQ(format_number(9007199254740991.0), "9007199254740991");
    // Every format is a JSON number.
    for (const double v : {4.0, 0.3, 1e20, 1.5e-7, -123.456, 9007199254740992.0}) {
        EXPECT_TRUE(boost::json::parse(format_number(v)).is_number()) << v;
    }
}

ToolResult calculate(const std::string& arguments) {
    const auto tool = make_calculator_tool();
    const auto args = boost::json::parse(arguments).as_object();
    return testing::run_awaitable(tool->run(ToolContext{}, args));
}

TEST(CalculatorToolTest, Result) {
    const auto r = calculate(R"({"expression": "(2 + 3) * sqrt(16) / 4"})");
    ASSERT_TRUE(r.ok) << r.content;
    EXPECT_EQ(r.content, R"({"expression":"(2 + 3) * sqrt(16) / 4","result":5})");
    const auto frac = calculate(R"({"expression": "0.1 + 0.2"})");
    EXPECT_EQ(frac.content, R"({"expression":"0.1 + 0.2","result":0.3})");
    // The expression is escaped into the JSON.
    const auto quoted = calculate(R"({"expression": "1 + 1 \"x\""})");
    EXPECT_FALSE(quoted.ok);
    EXPECT_TRUE(boost::json::parse(quoted.content).is_object());
}

TEST(CalculatorToolTest, Errors) {
    const auto zero = calculate(R"({"expression": "1/0"})");
    EXPECT_FALSE(zero.ok);
    EXPECT_EQ(zero.content, R"({"error":"division by zero"})");
    const auto missing = calculate("{}");
    EXPECT_FALSE(missing.ok);
    EXPECT_EQ(missing.content, R"({"error":"`expression` is required"})");
    const auto number = calculate(R"({"expression": 5})");
    EXPECT_EQ(number.content, R"({"error":"`expression` must be a string"})");
    const auto long_one = calculate(R"({"expression": ")" + std::string(501, '1') + "\"}");
    EXPECT_EQ(long_one.content, R"({"error":"`expression` is longer than 500 characters"})");
}

}  // namespace
}  // namespace parley::tools
