import { strict as assert } from "node:assert";
import { ContactStore } from "../../lib/wechat/contacts";
import { isWeChatError } from "../../lib/wechat/errors";
import { findMember, requireGroup } from "../../lib/wechat/members";
import type { Contact } from "../../lib/wechat/types";

function person(userName: string, nickName: string, extra: Partial<Contact> = {}): Contact {
  const remarkName = extra.remarkName ?? "";
  return { userName, nickName, remarkName, alias: "", kind: "friend", displayName: remarkName || nickName, handle: remarkName || nickName, ...extra };
}

describe("members", () => {
  it("finds group members by group name, nickname, or our remark; NOT_FOUND names no UserName", () => {
    const store = new ContactStore();
    const group: Contact = {
      ...person("@@g", "Team"),
      kind: "group",
      members: [
        { userName: "@u1", nickName: "Ann", displayName: "Annie" },
        { userName: "@u2", nickName: "Bob", displayName: "" },
        { userName: "@u3", nickName: "Sam", displayName: "" },
        { userName: "@u4", nickName: "Sam", displayName: "" },
      ],
    };
    store.upsert([group, person("@u2", "Bob", { remarkName: "Boss" })]);
    assert.equal(findMember(group, "Annie", store).userName, "@u1");
    assert.equal(findMember(group, "ann", store).userName, "@u1");
    assert.equal(findMember(group, "Boss", store).userName, "@u2");
    assert.equal(findMember(group, "@u3", store).userName, "@u3");
    assert.throws(() => findMember(group, "Sam", store), (e) => isWeChatError(e, "AMBIGUOUS") && e.candidates?.length === 2);
    assert.throws(
      () => findMember(group, "Zed", store),
      (e) => isWeChatError(e, "NOT_FOUND") && !/@u\d/.test(e.message) && e.message.includes("Zed"),
    );
  });

  it("requireGroup is the one 'not a group' check: the group back, else INVALID_ARGUMENT naming what needed one (#15.6)", () => {
    const group: Contact = { ...person("@@g", "Team"), kind: "group" };
    assert.equal(requireGroup(group, "renameGroup"), group);
    assert.throws(
      () => requireGroup(person("@a", "Ann\u202e\nX"), "renameGroup"),
      (e) => isWeChatError(e, "INVALID_ARGUMENT") && e.message === 'renameGroup: "Ann X" is not a group',
    );
    for (const kind of ["friend", "official", "special", "self", "stranger"] as const) {
      assert.throws(() => requireGroup(person("@x", "X", { kind }), "members"), (e) => isWeChatError(e, "INVALID_ARGUMENT"), kind);
    }
  });
});
