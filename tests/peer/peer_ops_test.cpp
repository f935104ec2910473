#include <gtest/gtest.h>
TEST(Peer, Placeholder) { EXPECT_TRUE(true); }
