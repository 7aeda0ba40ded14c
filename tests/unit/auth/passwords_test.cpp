#include "auth/passwords.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

namespace parley::auth {
namespace {

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

void expect_unprocessable(const Result<void>& r, std::string_view message) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type, ErrorType::unprocessable);
    EXPECT_EQ(r.error().message, message);
}

TEST(PasswordsTest, HashThenVerify) {
    const std::string hash = hash_password("correct horse battery staple");
    EXPECT_TRUE(verify_password("correct horse battery staple", hash));
    EXPECT_FALSE(verify_password("correct horse battery stapler", hash));
    EXPECT_FALSE(verify_password("Correct horse battery staple", hash));
    EXPECT_FALSE(verify_password("", hash));
}

TEST(PasswordsTest, SamePasswordHashesDifferently) {
    const std::string a = hash_password("same password");
    const std::string b = hash_password("same password");
    EXPECT_NE(a, b);
    EXPECT_TRUE(verify_password("same password", a));
    EXPECT_TRUE(verify_password("same password", b));
}

TEST(PasswordsTest, HashIsArgon2idWithOwaspParameters) {
    const std::string hash = hash_password("parameters");
    EXPECT_TRUE(hash.starts_with("$argon2id$v=19$")) << hash;
    EXPECT_NE(hash.find("$m=19456,t=2,p=1$"), std::string::npos) << hash;
    EXPECT_EQ(
        crypto_pwhash_str_needs_rehash(hash.c_str(), kPasswordOpsLimit, kPasswordMemLimit), 0
    );
}

TEST(PasswordsTest, PasswordsWithNulAndNonAsciiBytesAreHashedWhole) {
    const std::string with_nul("abc\0def", 7);
    const std::string hash = hash_password(with_nul);
    EXPECT_TRUE(verify_password(with_nul, hash));
    EXPECT_FALSE(verify_password("abc", hash));

    const std::string unicode_hash = hash_password("pässwörd-密码");
    EXPECT_TRUE(verify_password("pässwörd-密码", unicode_hash));
    EXPECT_FALSE(verify_password("passwerd-密码", unicode_hash));
}

TEST(PasswordsTest, MalformedStoredHashIsFalse) {
    const std::string good = hash_password("hunter22");
    const std::string with_nul = good.substr(0, 20) + std::string(1, '\0') + good.substr(20);
    std::string flipped = good;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    std::string argon2i(crypto_pwhash_STRBYTES, '\0');
    ASSERT_EQ(
        crypto_pwhash_str_alg(
            argon2i.data(), "hunter22", 8, 3, kPasswordMemLimit, crypto_pwhash_ALG_ARGON2I13
        ),
        0
    );
    argon2i.resize(argon2i.find('\0'));
    ASSERT_TRUE(argon2i.starts_with("$argon2i$"));

    for (const std::string& bad : {
             std::string(),
             std::string("hunter22"),
             std::string("$argon2id$"),
             std::string("$argon2id$v=19$m=19456,t=2,p=1$"),
             std::string("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"),
             good.substr(0, good.size() - 5),  // truncated
             good + "AAAA",                    // extended
             with_nul,
             flipped,
             argon2i,  // a valid hash, but not one Parley writes
             std::string(200, '$'),
         }) {
        EXPECT_FALSE(verify_password("hunter22", bad)) << bad;
    }
    EXPECT_TRUE(verify_password("hunter22", good));
}

TEST(PasswordsTest, DummyHashIsValidAndMatchesNothingGiven) {
    const std::string& dummy = dummy_password_hash();
    EXPECT_TRUE(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << dummy;
    EXPECT_EQ(
        crypto_pwhash_str_needs_rehash(dummy.c_str(), kPasswordOpsLimit, kPasswordMemLimit), 0
    );
    EXPECT_EQ(&dummy_password_hash(), &dummy);  // computed once
    for (const std::string_view guess :
         {std::string_view(), std::string_view("password"), std::string_view(dummy)}) {
        EXPECT_FALSE(verify_password(guess, dummy)) << guess;
    }
}

TEST(PasswordsTest, DummyHashIsSharedAcrossThreads) {
    std::vector<const std::string*> seen(8, nullptr);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        threads.emplace_back([&seen, i] { seen[i] = &dummy_password_hash(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const auto* p : seen) {
        EXPECT_EQ(p, &dummy_password_hash());
    }
}

TEST(PasswordsTest, ValidatePasswordLengthBoundaries) {
    expect_unprocessable(validate_password(""), "password must be at least 8 characters");
    expect_unprocessable(
        validate_password(std::string(7, 'a')), "password must be at least 8 characters"
    );
    EXPECT_TRUE(validate_password(std::string(8, 'a')).has_value());
    EXPECT_TRUE(validate_password(std::string(128, 'a')).has_value());
    expect_unprocessable(
        validate_password(std::string(129, 'a')), "password must be at most 128 characters"
    );
}

TEST(PasswordsTest, ValidatePasswordCountsCodePointsNotBytes) {
    // "é" is 2 bytes, "€" 3, "😀" 4: seven of them are more than 8 bytes but only 7 characters.
    for (const std::string_view ch : {"é", "€", "😀"}) {
        expect_unprocessable(
            validate_password(repeat(ch, 7)), "password must be at least 8 characters"
        );
        EXPECT_TRUE(validate_password(repeat(ch, 8)).has_value()) << ch;
        EXPECT_TRUE(validate_password(repeat(ch, 128)).has_value()) << ch;
        expect_unprocessable(
            validate_password(repeat(ch, 129)), "password must be at most 128 characters"
        );
    }
    EXPECT_TRUE(validate_password("abcdef€😀").has_value());  // 8 characters, 13 bytes
}

TEST(PasswordsTest, ValidatePasswordRejectsInvalidUtf8) {
    for (const std::string_view bad : {
             std::string_view("abcdefgh\xff"),
             std::string_view("abcdefgh\xc0\xaf"),      // overlong '/'
             std::string_view("abcdefgh\xed\xa0\x80"),  // UTF-16 surrogate
             std::string_view("abcdefgh\xe2\x82"),      // truncated
             std::string_view("abcdefgh\x80"),          // stray continuation byte
         }) {
        expect_unprocessable(validate_password(bad), "password must be valid UTF-8");
    }
}

TEST(PasswordsTest, NormalizeEmailTrimsAndLowerCases) {
    EXPECT_EQ(normalize_email(" Demo@Example.COM ").value(), "demo@example.com");
    EXPECT_EQ(normalize_email("\tdemo@example.com\r\n").value(), "demo@example.com");
    EXPECT_EQ(normalize_email("A.B+Tag@Sub.Example.co.uk").value(), "a.b+tag@sub.example.co.uk");
    EXPECT_EQ(normalize_email("o'brien@example.com").value(), "o'brien@example.com");
    EXPECT_EQ(normalize_email("x@a-b.io").value(), "x@a-b.io");
    EXPECT_EQ(normalize_email("x@xn--bcher-kva.example").value(), "x@xn--bcher-kva.example");
}

TEST(PasswordsTest, NormalizeEmailLengthLimits) {
    // 64 + 1 + 189 = 254 bytes: the longest accepted.
    const std::string local(64, 'l');
    const std::string domain_189 =
        std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(61, 'c');
    const std::string longest = local + "@" + domain_189;
    ASSERT_EQ(longest.size(), 254U);
    EXPECT_EQ(normalize_email(longest).value(), longest);
    EXPECT_EQ(normalize_email("  " + longest + "  ").value(), longest);  // trimmed first

    const std::string too_long = local + "@" + domain_189 + "c";
    ASSERT_EQ(too_long.size(), 255U);
    const auto r = normalize_email(too_long);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type, ErrorType::unprocessable);
    EXPECT_EQ(r.error().message, "email is longer than 254 bytes");

    EXPECT_FALSE(normalize_email(std::string(65, 'l') + "@example.com").has_value());
    EXPECT_FALSE(normalize_email("x@" + std::string(64, 'a') + ".com").has_value());
    EXPECT_TRUE(normalize_email("x@" + std::string(63, 'a') + ".com").has_value());
}

TEST(PasswordsTest, NormalizeEmailRejectsInvalidAddresses) {
    for (const std::string_view bad : {
             "",
             "   ",
             "demo.example.com",   // no @
             "demo@ex@ample.com",  // two @
             "demo@localhost",     // no dot in domain
             "de mo@example.com",  // space in local part
             "demo@exa mple.com",  // space in domain
             "demo @example.com",
             "@example.com",       // empty local part
             "demo@",              // empty domain
             "demo@-example.com",  // label starting with '-'
             "demo@example-.com",  // label ending with '-'
             "demo@example.-com",
             "demo@.example.com",  // empty label
             "demo@example..com",
             "demo@example.com.",
             "demo@exa_mple.com",     // '_' is not a hostname character
             "de\x01mo@example.com",  // control characters
             "demo@exam\x7fple.com",
             "demo\n@example.com",
             "\"demo\"@example.com",       // quotes
             "demo,other@example.com",     // comma
             "demo(comment)@example.com",  // brackets
             "<demo>@example.com",
             "[demo]@example.com",
             "demo;x@example.com",
             "demo\\x@example.com",
             ".demo@example.com",  // dots misplaced in the local part
             "demo.@example.com",
             "de..mo@example.com",
             "dém@example.com",  // non-ASCII (domains arrive as punycode)
             "demo@exämple.com",
         }) {
        const auto r = normalize_email(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().type, ErrorType::unprocessable) << bad;
        EXPECT_EQ(r.error().message, "email is not a valid address") << bad;
    }
}

}  // namespace
}  // namespace parley::auth
