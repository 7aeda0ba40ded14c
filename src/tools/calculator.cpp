#include "tools/calculator.hpp"

#include <charconv>
#include <cmath>
#include <numbers>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "common/strings.hpp"
#include "tools/builtins.hpp"
#include "tools/registry.hpp"

namespace parley::tools {

namespace {

// Thrown inside the parser only; evaluate_expression turns it into an Error.
struct CalcError {
    std::string message;
};

struct Function {
    std::string_view name;
    int min_args;
    int max_args;  // -1: any number from min_args
};

constexpr Function kFunctions[] = {
    {"abs", 1, 1},  {"sqrt", 1, 1},  {"cbrt", 1, 1}, {"exp", 1, 1},  {"ln", 1, 1},
    {"log", 1, 2},  {"log10", 1, 1}, {"log2", 1, 1}, {"sin", 1, 1},  {"cos", 1, 1},
    {"tan", 1, 1},  {"asin", 1, 1},  {"acos", 1, 1}, {"atan", 1, 1}, {"floor", 1, 1},
    {"ceil", 1, 1}, {"round", 1, 2}, {"pow", 2, 2},  {"min", 1, -1}, {"max", 1, -1},
};

std::string known_names() {
    std::string out = "pi, e";
    for (const auto& f : kFunctions) {
        out += ", ";
        out += f.name;
    }
    return out;
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

bool is_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    double parse() {
        const double v = sum();
        skip_space();
        if (pos_ < text_.size()) {
            unexpected();
        }
        return v;
    }

private:
    // One level deeper (parentheses, a call, a sign, an exponent) for as long as it lives.
    class Nest {
    public:
        explicit Nest(Parser& p) : p_(p) {
            if (++p_.depth_ > kMaxExpressionDepth) {
                throw CalcError{
                    "the expression is nested deeper than " + std::to_string(kMaxExpressionDepth) +
                    " levels"};
            }
        }

        ~Nest() { --p_.depth_; }

        Nest(const Nest&) = delete;
        Nest& operator=(const Nest&) = delete;

    private:
        Parser& p_;
    };

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    // The next character after spaces, or 0 at the end.
    char peek() {
        skip_space();
        return pos_ < text_.size() ? text_[pos_] : '\0';
    }

    bool accept(char c) {
        if (peek() == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    std::string position() const { return "position " + std::to_string(pos_ + 1); }

    [[noreturn]] void unexpected() {
        if (pos_ >= text_.size()) {
            throw CalcError{"the expression ends too early"};
        }
        const auto c = static_cast<unsigned char>(text_[pos_]);
        if (c < 0x20 || c >= 0x7F) {
            throw CalcError{"unexpected character at " + position()};
        }
        throw CalcError{"unexpected '" + std::string(1, text_[pos_]) + "' at " + position()};
    }

    void expect(char c) {
        if (!accept(c)) {
            if (pos_ >= text_.size()) {
                throw CalcError{"missing '" + std::string(1, c) + "' at the end"};
            }
            unexpected();
        }
    }

    double sum() {
        double v = product();
        while (true) {
            if (accept('+')) {
                v += product();
            } else if (accept('-')) {
                v -= product();
            } else {
                return v;
            }
        }
    }

    double product() {
        double v = unary();
        while (true) {
            const char c = peek();
            // "**" is the power operator, handled in power().
            if (c == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
                return v;
            }
            if (c != '*' && c != '/' && c != '%') {
                return v;
            }
            ++pos_;
            const double rhs = unary();
            if (c == '*') {
                v *= rhs;
            } else if (rhs == 0) {
                throw CalcError{"division by zero"};
            } else if (c == '/') {
                v /= rhs;
            } else {
                v = std::fmod(v, rhs);
            }
        }
    }

    double unary() {
        const char c = peek();
        if (c == '-' || c == '+') {
            ++pos_;
            const Nest nest(*this);
            const double v = unary();
            return c == '-' ? -v : v;
        }
        return power();
    }

    double power() {
        const double base = primary();
        const char c = peek();
        bool is_power = false;
        if (c == '^') {
            ++pos_;
            is_power = true;
        } else if (c == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
            pos_ += 2;
            is_power = true;
        }
        if (!is_power) {
            return base;
        }
        const Nest nest(*this);
        const double exponent = unary();
        return checked_pow(base, exponent);
    }

    static double checked_pow(double base, double exponent) {
        if (base == 0 && exponent < 0) {
            throw CalcError{"division by zero (zero to a negative power)"};
        }
        if (base < 0 && exponent != std::trunc(exponent)) {
            throw CalcError{"a negative number to a fractional power is not a real number"};
        }
        return std::pow(base, exponent);
    }

    double primary() {
        const char c = peek();
        if (c == '(') {
            ++pos_;
            const Nest nest(*this);
            const double v = sum();
            expect(')');
            return v;
        }
        if (is_digit(c) || c == '.') {
            return number();
        }
        if (is_name_char(c)) {
            return name();
        }
        unexpected();
    }

    double number() {
        const std::size_t start = pos_;
        std::size_t digits = 0;
        while (pos_ < text_.size() && is_digit(text_[pos_])) {
            ++pos_;
            ++digits;
        }
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            while (pos_ < text_.size() && is_digit(text_[pos_])) {
                ++pos_;
                ++digits;
            }
        }
        if (digits == 0) {
            pos_ = start;
            unexpected();
        }
        // An exponent only when digits follow ("2e3"); "2e" stays a number and a name.
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            std::size_t p = pos_ + 1;
            if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) {
                ++p;
            }
            if (p < text_.size() && is_digit(text_[p])) {
                pos_ = p;
                while (pos_ < text_.size() && is_digit(text_[pos_])) {
                    ++pos_;
                }
            }
        }
        double v = 0;
        const auto r = std::from_chars(text_.data() + start, text_.data() + pos_, v);
        if (r.ec == std::errc::result_out_of_range) {
            throw CalcError{
                "the number at position " + std::to_string(start + 1) + " is too large"};
        }
        if (r.ec != std::errc() || r.ptr != text_.data() + pos_) {
            throw CalcError{"malformed number at position " + std::to_string(start + 1)};
        }
        return v;
    }

    double name() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && is_name_char(text_[pos_])) {
            ++pos_;
        }
        const auto written = text_.substr(start, pos_ - start);
        const auto id = to_lower(written);
        if (peek() != '(') {
            if (id == "pi") {
                return std::numbers::pi;
            }
            if (id == "e") {
                return std::numbers::e;
            }
            throw CalcError{
                "unknown name \"" + std::string(written) + "\" at position " +
                std::to_string(start + 1) + " (known: " + known_names() + ")"};
        }
        const Function* f = nullptr;
        for (const auto& candidate : kFunctions) {
            if (candidate.name == id) {
                f = &candidate;
            }
        }
        if (f == nullptr) {
            throw CalcError{
                "unknown function \"" + std::string(written) + "\" at position " +
                std::to_string(start + 1) + " (known: " + known_names() + ")"};
        }
        ++pos_;  // '('
        const Nest nest(*this);
        std::vector<double> args;
        if (peek() != ')') {
            args.push_back(sum());
            while (accept(',')) {
                args.push_back(sum());
            }
        }
        expect(')');
        const auto n = static_cast<int>(args.size());
        if (n < f->min_args || (f->max_args >= 0 && n > f->max_args)) {
            std::string want;
            if (f->max_args < 0) {
                want = "at least " + std::to_string(f->min_args);
            } else if (f->min_args == f->max_args) {
                want = std::to_string(f->min_args);
            } else {
                want = std::to_string(f->min_args) + " or " + std::to_string(f->max_args);
            }
            throw CalcError{
                std::string(f->name) + " takes " + want + " argument" +
                (f->max_args == 1 || (f->max_args < 0 && f->min_args == 1) ? "" : "s") + ", got " +
                std::to_string(n)};
        }
        return apply(id, args);
    }

    static double log_of(double x, std::string_view fn) {
        if (x <= 0) {
            throw CalcError{std::string(fn) + " of a number that is not positive"};
        }
        return std::log(x);
    }

    static double apply(std::string_view fn, const std::vector<double>& a) {
        const double x = a[0];
        if (fn == "abs") {
            return std::fabs(x);
        }
        if (fn == "sqrt") {
            if (x < 0) {
                throw CalcError{"sqrt of a negative number"};
            }
            return std::sqrt(x);
        }
        if (fn == "cbrt") {
            return std::cbrt(x);
        }
        if (fn == "exp") {
            return std::exp(x);
        }
        if (fn == "ln") {
            return log_of(x, fn);
        }
        if (fn == "log") {
            if (a.size() == 1) {
                return log_of(x, fn);
            }
            const double base = a[1];
            if (base <= 0 || base == 1) {
                throw CalcError{"log's base must be positive and not 1"};
            }
            return log_of(x, fn) / std::log(base);
        }
        if (fn == "log10") {
            log_of(x, fn);
            return std::log10(x);
        }
        if (fn == "log2") {
            log_of(x, fn);
            return std::log2(x);
        }
        if (fn == "sin") {
            return std::sin(x);
        }
        if (fn == "cos") {
            return std::cos(x);
        }
        if (fn == "tan") {
            return std::tan(x);
        }
        if (fn == "asin" || fn == "acos") {
            if (x < -1 || x > 1) {
                throw CalcError{std::string(fn) + " of a number outside [-1, 1]"};
            }
            return fn == "asin" ? std::asin(x) : std::acos(x);
        }
        if (fn == "atan") {
            return std::atan(x);
        }
        if (fn == "floor") {
            return std::floor(x);
        }
        if (fn == "ceil") {
            return std::ceil(x);
        }
        if (fn == "round") {
            if (a.size() == 1) {
                return std::round(x);
            }
            const double digits = a[1];
            if (digits != std::trunc(digits) || digits < -15 || digits > 15) {
                throw CalcError{"round's digits must be a whole number from -15 to 15"};
            }
            const double scale = std::pow(10.0, digits);
            return std::round(x * scale) / scale;
        }
        if (fn == "pow") {
            return checked_pow(x, a[1]);
        }
        double v = x;
        for (const double y : a) {
            v = fn == "min" ? std::fmin(v, y) : std::fmax(v, y);
        }
        return v;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

constexpr std::size_t kMaxExpressionArgument = kMaxExpressionLength;

class CalculatorTool final : public Tool {
public:
    CalculatorTool() {
        spec_.name = std::string(kCalculatorTool);
        spec_.description =
            "Evaluates an arithmetic expression exactly as written and returns the number. "
            "Supports + - * / % (remainder) ^ (power), parentheses, decimals, the constants pi "
            "and e, and the functions abs, sqrt, cbrt, exp, ln, log(x[, base]), log10, log2, "
            "sin, cos, tan (radians), asin, acos, atan, floor, ceil, round(x[, digits]), "
            "pow(x, y), min and max. Use it for any calculation instead of computing by hand.";
        spec_.parameters =
            R"({"type":"object","properties":{"expression":{"type":"string","description":)"
            R"("The expression, e.g. \"(2 + 3) * sqrt(16) / 4\""}},"required":["expression"]})";
    }

    const llm::ToolSpec& spec() const noexcept override { return spec_; }

    boost::asio::awaitable<ToolResult> run(
        const ToolContext& /*ctx*/, const boost::json::object& arguments
    ) const override {
        const auto expression = string_argument(arguments, "expression", kMaxExpressionArgument);
        if (!expression) {
            co_return ToolResult::failure(expression.error().message);
        }
        const auto value = evaluate_expression(*expression);
        if (!value) {
            co_return ToolResult::failure(value.error().message);
        }
        // Written by hand: Boost.JSON would write 0.3 as 3E-1, which reads badly to a model.
        std::string content = R"({"expression":)";
        content += boost::json::serialize(boost::json::string(*expression));
        content += R"(,"result":)";
        content += format_number(*value);
        content += '}';
        co_return ToolResult{true, std::move(content)};
    }

private:
    llm::ToolSpec spec_;
};

}  // namespace

Result<double> evaluate_expression(std::string_view expression) {
    if (utf8_length(expression) > kMaxExpressionLength) {
        return make_error(
            ErrorType::invalid_request,
            "the expression is longer than " + std::to_string(kMaxExpressionLength) + " characters"
        );
    }
    if (trim(expression).empty()) {
        return make_error(ErrorType::invalid_request, "the expression is empty");
    }
    try {
        const double v = Parser(expression).parse();
        if (std::isnan(v)) {
            return make_error(ErrorType::invalid_request, "the result is not a number");
        }
        if (std::isinf(v)) {
            return make_error(ErrorType::invalid_request, "the result is too large");
        }
        return v;
    } catch (const CalcError& e) {
        return make_error(ErrorType::invalid_request, e.message);
    }
}

std::string format_number(double value) {
    constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
    if (value == std::trunc(value) && std::fabs(value) < kExactIntegers) {
        return std::to_string(static_cast<std::int64_t>(value));
    }
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 15);
    return std::string(buf, r.ptr);
}

std::unique_ptr<Tool> make_calculator_tool() {
    return std::make_unique<CalculatorTool>();
}

}  // namespace parley::tools
