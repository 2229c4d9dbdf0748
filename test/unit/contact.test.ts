import assert from "node:assert/strict";
import { rawContactToContact, isSpecialUserName, SPECIAL_USERNAMES } from "../../lib/wechat/messages/contact";
import type { RawContact } from "../../lib/wechat/messages/wire";

const SELF = "@self0001";

describe("messages/contact rawContactToContact", () => {
  it("maps a friend with remark, alias and decoded names", () => {
    const c = rawContactToContact(
      {
        UserName: "@f1",
        NickName: 'Ann &amp; Co <span class="emoji emoji1f604"></span>',
        RemarkName: "Annie",
        Alias: "ann_w",
        VerifyFlag: 0,
        ContactFlag: 3,
        Sex: 2,
        Signature: "hi&lt;3",
        Province: "北京",
        City: "海淀",
        StarFriend: 1,
      },
      SELF,
    );
    assert.equal(c.kind, "friend");
    assert.equal(c.nickName, "Ann & Co 😄");
    assert.equal(c.remarkName, "Annie");
    assert.equal(c.alias, "ann_w");
    assert.equal(c.displayName, "Annie");
    assert.equal(c.handle, "Annie");
    assert.equal(c.sex, 2);
    assert.equal(c.signature, "hi<3");
    assert.equal(c.province, "北京");
    assert.equal(c.starred, true);
    assert.equal(c.members, undefined);
  });

  it("handle falls back to alias, then nickname", () => {
    assert.equal(rawContactToContact({ UserName: "@a", NickName: "Nick", Alias: "al", ContactFlag: 1 }, SELF).handle, "al");
    const plain = rawContactToContact({ UserName: "@a", NickName: "Nick", ContactFlag: 1 }, SELF);
    assert.equal(plain.handle, "Nick");
    assert.equal(plain.displayName, "Nick");
  });

  it("recognises groups with their members and topic", () => {
    const raw: RawContact = {
      UserName: "@@room1",
      NickName: "Team &amp; Friends",
      EncryChatRoomId: "@enc1",
      MemberCount: 2,
      MemberList: [
        { UserName: "@m1", NickName: "Mia", DisplayName: "Mia (ops)" },
        { UserName: "@m2", NickName: 'Leo<span class="emoji emoji1f600"></span>', DisplayName: "" },
      ],
    };
    const g = rawContactToContact(raw, SELF);
    assert.equal(g.kind, "group");
    assert.equal(g.displayName, "Team & Friends");
    assert.equal(g.handle, "Team & Friends");
    assert.equal(g.memberCount, 2);
    assert.equal(g.encryChatRoomId, "@enc1");
    assert.deepEqual(g.members, [
      { userName: "@m1", nickName: "Mia", displayName: "Mia (ops)" },
      { userName: "@m2", nickName: "Leo😀", displayName: "" },
    ]);
  });

  it("names an untitled group after its members", () => {
    const g = rawContactToContact({ UserName: "@@r", NickName: "", MemberList: [{ UserName: "@a", NickName: "A" }, { UserName: "@b", NickName: "B", DisplayName: "Bee" }] }, SELF);
    assert.equal(g.displayName, "A, Bee");
    assert.equal(g.handle, "A, Bee");
    assert.equal(g.memberCount, 2);
  });

  it("recognises official, special, self and stranger", () => {
    assert.equal(rawContactToContact({ UserName: "@o", NickName: "News", VerifyFlag: 24, ContactFlag: 3 }, SELF).kind, "official");
    const helper = rawContactToContact({ UserName: "filehelper", NickName: "文件传输助手" }, SELF);
    assert.equal(helper.kind, "special");
    assert.equal(helper.handle, "filehelper");
    assert.equal(rawContactToContact({ UserName: "12345@qqim", NickName: "qq" }, SELF).kind, "special");
    assert.equal(rawContactToContact({ UserName: SELF, NickName: "Me" }, SELF).kind, "self");
    assert.equal(rawContactToContact({ UserName: "@x", NickName: "X", ContactFlag: 0 }, SELF).kind, "stranger");
    assert.equal(rawContactToContact({ UserName: "@x", NickName: "X" }, SELF).kind, "friend");
  });

  it("survives hostile shapes", () => {
    const weird = rawContactToContact({ UserName: 5, NickName: { a: 1 }, MemberList: "nope", VerifyFlag: "8" } as unknown as RawContact, SELF);
    assert.equal(weird.userName, "5");
    assert.equal(weird.nickName, "");
    assert.equal(weird.kind, "official");
    const nothing = rawContactToContact(null as unknown as RawContact, SELF);
    assert.equal(nothing.userName, "");
    const group = rawContactToContact({ UserName: "@@g", MemberList: [null, 3, { UserName: "@m" }] } as unknown as RawContact, SELF);
    assert.deepEqual(group.members, [{ userName: "@m", nickName: "", displayName: "" }]);
  });

  it("knows the special list of docs/protocol.md section 7", () => {
    for (const name of ["filehelper", "weixin", "fmessage", "newsapp", "notifymessage", "wxitil"]) assert.ok(isSpecialUserName(name));
    assert.equal(SPECIAL_USERNAMES.size, 28);
    assert.equal(isSpecialUserName("@abc"), false);
  });
});
