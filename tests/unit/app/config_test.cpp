#include "app/config.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace parley::app {
namespace {

Config load_ok(const Env& file, const Env& env = {}, const Env& flags = {}) {
    auto c = load_config(file, env, flags);
    EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
    return c ? *c : Config{};
}

std::string load_error(const Env& env) {
    auto c = load_config({}, env, {});
    EXPECT_FALSE(c.has_value());
    return c ? "" : c.error().message;
}

TEST(ConfigTest, DefaultsMatchTheDocumentation) {
    const auto c = load_ok({});
    EXPECT_EQ(c.host, "127.0.0.1");
    EXPECT_EQ(c.port, 8000);
    EXPECT_EQ(c.data_dir, "data");
    EXPECT_EQ(c.database_url, "sqlite://data/parley.db");
    EXPECT_EQ(c.environment, "development");
    EXPECT_EQ(c.jwt_access_minutes, 30);
    EXPECT_EQ(c.jwt_refresh_days, 7);
    EXPECT_EQ(c.rate_limit_standard, 60);
    EXPECT_EQ(c.rate_limit_ai, 10);
    EXPECT_EQ(c.rate_limit_auth, 20);
    EXPECT_EQ(c.max_header_bytes, 16U * 1024);
    EXPECT_EQ(c.max_header_fields, 100U);
    EXPECT_EQ(c.max_body_bytes, 1024U * 1024);
    EXPECT_EQ(c.header_timeout, std::chrono::seconds(10));
    EXPECT_EQ(c.idle_timeout, std::chrono::seconds(75));
    EXPECT_EQ(c.json_max_depth, 64U);
    EXPECT_TRUE(c.migrate_on_start);
    EXPECT_TRUE(c.allowed_origins.empty());
    EXPECT_EQ(c.log_level, log::Level::info);
}

TEST(ConfigTest, LayersOverrideInOrder) {
    const Env file{{"PORT", "1111"}, {"HOST", "0.0.0.0"}, {"LOG_LEVEL", "debug"}};
    const Env env{{"PORT", "2222"}, {"HOST", "::1"}};
    const Env flags{{"PORT", "3333"}};
    const auto c = load_ok(file, env, flags);
    EXPECT_EQ(c.port, 3333);                    // flag wins
    EXPECT_EQ(c.host, "::1");                   // environment beats the file
    EXPECT_EQ(c.log_level, log::Level::debug);  // file beats the default
}

TEST(ConfigTest, DatabaseUrlFollowsDataDirUnlessSet) {
    EXPECT_EQ(
        load_ok({{"DATA_DIR", "/var/lib/parley/"}}).database_url,
        "sqlite:///var/lib/parley/parley.db"
    );
    EXPECT_EQ(load_ok({{"DATABASE_URL", "sqlite://x.db"}}).database_url, "sqlite://x.db");
    EXPECT_EQ(load_ok({}).database_pool_size, 10U);
    EXPECT_EQ(load_ok({{"DATABASE_POOL_SIZE", "3"}}).database_pool_size, 3U);
}

TEST(ConfigTest, ParsesListsDurationsAndBooleans) {
    const auto c = load_ok({
        {"ALLOWED_ORIGINS", "https://a.example, http://localhost:5173"},
        {"HEADER_TIMEOUT_S", "0.5"},
        {"MIGRATE_ON_START", "no"},
        {"ACCESS_LOG", "FALSE"},
    });
    EXPECT_EQ(
        c.allowed_origins, (std::vector<std::string>{"https://a.example", "http://localhost:5173"})
    );
    EXPECT_EQ(c.header_timeout, std::chrono::milliseconds(500));
    EXPECT_FALSE(c.migrate_on_start);
    EXPECT_FALSE(c.access_log);
}

TEST(ConfigTest, InvalidValuesNameTheVariable) {
    struct Case {
        const char* name;
        const char* value;
    };

    for (const auto& [name, value] : {
             Case{"PORT", "abc"},
             Case{"PORT", "70000"},
             Case{"PORT", "80x"},
             Case{"RATE_LIMIT_STANDARD", "-1"},
             Case{"RATE_LIMIT_AI", "0"},
             Case{"HEADER_TIMEOUT_S", "soon"},
             Case{"MIGRATE_ON_START", "maybe"},
             Case{"LOG_LEVEL", "loud"},
             Case{"ENVIRONMENT", "staging"},
             Case{"ALLOWED_ORIGINS", "*"},
             Case{"ALLOWED_ORIGINS", "app.example.com"},
             Case{"DATABASE_URL", "mysql://x"},
             Case{"DATABASE_POOL_SIZE", "0"},
             Case{"REDIS_URL", "localhost:6379"},
             Case{"REDIS_URL", "rediss://cache:6380"},  // TLS: not in Debian's hiredis 0.14
             Case{"REDIS_URL", "redis://cache:port"},
             Case{"MAX_BODY_BYTES", "1"},
         }) {
        const auto message = load_error({{name, value}});
        EXPECT_EQ(message.rfind(name, 0), 0U) << name << "=" << value << " gave: " << message;
    }
}

TEST(ConfigTest, ShortJwtSecretIsRejectedWithoutEchoingIt) {
    const auto message = load_error({{"JWT_SECRET", "tooshort-secret"}});
    EXPECT_NE(message.find("JWT_SECRET"), std::string::npos);
    EXPECT_EQ(message.find("tooshort-secret"), std::string::npos) << message;
    EXPECT_TRUE(load_config({}, {{"JWT_SECRET", std::string(32, 'k')}}, {}).has_value());
}

TEST(ConfigTest, ProductionRequiresJwtSecret) {
    const auto message = load_error({{"ENVIRONMENT", "production"}});
    EXPECT_NE(message.find("JWT_SECRET"), std::string::npos);
    EXPECT_TRUE(
        load_config({}, {{"ENVIRONMENT", "production"}, {"JWT_SECRET", std::string(40, 's')}}, {})
            .has_value()
    );
}

TEST(ConfigTest, EnvFileSyntax) {
    const auto env = parse_env_file(
        "# comment\n"
        "\n"
        "PORT=9000\n"
        "export HOST=0.0.0.0\n"
        "GROQ_API_KEY=\"gsk quoted value\"\n"
        "JWT_SECRET='single'\n"
        "LOG_LEVEL=debug # trailing comment\n"
        "EMPTY=\n"
    );
    ASSERT_TRUE(env.has_value());
    EXPECT_EQ(env->at("PORT"), "9000");
    EXPECT_EQ(env->at("HOST"), "0.0.0.0");
    EXPECT_EQ(env->at("GROQ_API_KEY"), "gsk quoted value");
    EXPECT_EQ(env->at("JWT_SECRET"), "single");
    EXPECT_EQ(env->at("LOG_LEVEL"), "debug");
    EXPECT_EQ(env->at("EMPTY"), "");

    const auto bad = parse_env_file("PORT=1\nthis line is wrong\n");
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("line 2"), std::string::npos);
}

TEST(ConfigTest, DescribeRedactsSecrets) {
    const auto effective = effective_values(
        {},
        {{"GROQ_API_KEY", "gsk_live_secret"},
         {"DATABASE_URL", "postgresql://parley:pa55word@db:5432/parley"},
         {"JWT_SECRET", std::string(40, 'j')}},
        {}
    );
    std::string all;
    for (const auto& [name, value] : describe(effective)) {
        all += name + "=" + value + "\n";
    }
    EXPECT_EQ(all.find("gsk_live_secret"), std::string::npos) << all;
    EXPECT_EQ(all.find("pa55word"), std::string::npos) << all;
    EXPECT_EQ(all.find(std::string(40, 'j')), std::string::npos) << all;
    EXPECT_NE(all.find("DATABASE_URL=postgresql://parley:****@db:5432/parley"), std::string::npos)
        << all;
    EXPECT_NE(all.find("PORT=8000"), std::string::npos);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(ConfigTest, EnvExampleAndReadmeListEverySetting) {
    const auto example = read_file(PARLEY_SOURCE_DIR "/.env.example");
    const auto readme = read_file(PARLEY_SOURCE_DIR "/README.md");
    ASSERT_FALSE(example.empty());
    ASSERT_FALSE(readme.empty());
    for (const auto& s : settings()) {
        const std::string name(s.name);
        EXPECT_NE(example.find("\n" + name + "="), std::string::npos)
            << name << " missing from .env.example";
        EXPECT_NE(readme.find("| `" + name + "` |"), std::string::npos)
            << name << " missing from README's table";
    }
    // And .env.example parses, with every value valid.
    const auto parsed = parse_env_file(example);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_TRUE(load_config(*parsed, {}, {}).has_value());
}

}  // namespace
}  // namespace parley::app
