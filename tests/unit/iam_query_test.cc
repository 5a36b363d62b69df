// The AWS Query protocol's pieces: the XML writer's escaping and nesting, the
// form parser, and IAM's paging.
#include <gtest/gtest.h>

#include "iam/fields.h"
#include "iam/query_form.h"
#include "iam/xml_writer.h"

namespace berth::iam {
namespace {

TEST(IamXml, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(xml_escape(R"(a&b<c>d"e'f)"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(xml_escape("plain text/with:colons"), "plain text/with:colons");
  EXPECT_EQ(xml_escape("&amp;"), "&amp;amp;");  // escaped again: text is never markup
}

TEST(IamXml, KeepsWhitespaceAndReplacesWhatXmlCannotCarry) {
  EXPECT_EQ(xml_escape("a\tb\nc\rd"), "a\tb\nc&#13;d");
  EXPECT_EQ(xml_escape(std::string("x\x01y\0z", 5)), "x\xEF\xBF\xBDy\xEF\xBF\xBDz");
  EXPECT_EQ(xml_escape("caf\xC3\xA9"), "caf\xC3\xA9");  // UTF-8 passes through
}

TEST(IamXml, WriterNestsEscapesAndClosesWhatIsOpen) {
  XmlWriter w;
  w.open("GetUserResponse", "https://iam.amazonaws.com/doc/2010-05-08/");
  w.open("GetUserResult").open("User").element("UserName", "a<b>&c").close();
  EXPECT_EQ(w.take(),
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
            "<GetUserResult><User><UserName>a&lt;b&gt;&amp;c</UserName></User></GetUserResult>"
            "</GetUserResponse>");
  EXPECT_EQ(w.take(), "");  // empty once taken
  w.close();                // nothing open: no-op
  w.open("A").raw("<B>x</B>");
  EXPECT_EQ(w.take(), "<A><B>x</B></A>");
}

TEST(IamQueryForm, DecodesPercentEscapesAndPlus) {
  auto form = QueryForm::parse(
      "Action=PutUserPolicy&UserName=ci&PolicyDocument=%7B%22a%22%3A+%22b%2Bc%22%7D&Empty=&"
      "Version=2010-05-08");
  ASSERT_TRUE(form) << form.status().to_string();
  EXPECT_EQ(form->get("Action"), "PutUserPolicy");
  EXPECT_EQ(form->get("PolicyDocument"), R"({"a": "b+c"})");
  EXPECT_EQ(form->get("Empty"), "");
  EXPECT_EQ(form->get("Missing"), std::nullopt);
  EXPECT_EQ(form->get("action"), std::nullopt);  // names are case-sensitive
}

TEST(IamQueryForm, ReadsListsAndStructuresUpToTheFirstGap) {
  auto form = QueryForm::parse(
      "TagKeys.member.1=a&TagKeys.member.2=b&TagKeys.member.4=d&"
      "Tags.member.1.Key=team&Tags.member.1.Value=x%20y&Tags.member.2.Key=env");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->list("TagKeys"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(form->list("Nothing").empty());
  auto tags = form->structures("Tags", {"Key", "Value"});
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0], (std::vector<std::string>{"team", "x y"}));
  EXPECT_EQ(tags[1], (std::vector<std::string>{"env", ""}));
}

TEST(IamQueryForm, RefusesBadPercentEncoding) {
  auto form = QueryForm::parse("Action=GetUser&UserName=%zz");
  ASSERT_FALSE(form);
  EXPECT_EQ(form.status().code(), Code::kInvalidArgument);
}

TEST(IamPaging, MarkerAndMaxItemsWalkTheList) {
  const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  auto first = QueryForm::parse("MaxItems=2");
  ASSERT_TRUE(first);
  auto p1 = std::get<Page>(page_of(*first, names));
  EXPECT_EQ(p1.begin, 0u);
  EXPECT_EQ(p1.end, 2u);
  ASSERT_FALSE(p1.next_marker.empty());
  // The marker goes back percent-encoded, as a client sends it.
  std::string encoded;
  for (char ch : p1.next_marker)
    encoded += ch == '=' ? "%3D" : ch == '+' ? "%2B" : std::string(1, ch);
  auto second = QueryForm::parse("MaxItems=10&Marker=" + encoded);
  ASSERT_TRUE(second);
  auto p2 = std::get<Page>(page_of(*second, names));
  EXPECT_EQ(p2.begin, 2u);
  EXPECT_EQ(p2.end, 5u);
  EXPECT_TRUE(p2.next_marker.empty());

  auto bad = QueryForm::parse("MaxItems=0");
  ASSERT_TRUE(bad);
  auto refused = page_of(*bad, names);
  ASSERT_TRUE(std::holds_alternative<IamError>(refused));
  EXPECT_EQ(std::get<IamError>(refused).code, "ValidationError");
}

}  // namespace
}  // namespace berth::iam
