#include <catch2/catch.hpp>

#include "core/module/registry.hpp"

TEST_CASE("descriptor ids accept only the patch-file alphabet", "[registry]") {
    CHECK(kabel::isValidId("osc-1_B"));
    CHECK_FALSE(kabel::isValidId(""));
    CHECK_FALSE(kabel::isValidId("a.b"));
    CHECK_FALSE(kabel::isValidId(std::string(65, 'a')));
}
