import { Rng } from "./rng";

/** The seeded world: people, official and special accounts, groups, and the phone accounts that can log in. */

export type PersonKind = "person" | "official" | "special";

export interface Person {
  id: string;
  nickName: string; // raw: may hold emoji spans, "<", "&"
  alias: string;
  sex: number;
  province: string;
  city: string;
  signature: string;
  kind: PersonKind;
  verifyFlag: number;
  /** Special accounts keep a fixed UserName (filehelper, weixin, ...). */
  fixedUserName?: string;
  /** The nickName goes on the wire raw ("<" and "&" unescaped), as the server has sent some names. */
  rawWire?: boolean;
}

export interface Group {
  id: string;
  topic: string;
  members: string[]; // person ids, in join order
  displayNames: Map<string, string>;
  ownerId: string;
  /** The topic goes on the wire raw ("<" and "&" unescaped). */
  rawWire?: boolean;
}

export interface ContactMeta {
  remarkName: string;
  starred: boolean;
}

export interface Account {
  index: number;
  personId: string;
  uin: number;
  friends: Map<string, ContactMeta>; // person id -> meta (friends, officials, specials)
  groups: Set<string>;
  /** Groups this account pinned (webwxoplog CmdId 3); pinned friends keep it in their ContactMeta. */
  pinnedGroups: Set<string>;
}

export const SPECIAL_ACCOUNTS = ["filehelper", "weixin", "fmessage", "newsapp"] as const;

const SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡"];
const GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "霞"];
const LATIN = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Oscar", "Peggy", "Trent", "Victor", "Walter"];
const EMOJI = ["1f604", "1f602", "1f60d", "1f44d", "2600", "1f1e81f1f3", "1f389", "1f431"];
const PROVINCES: [string, string][] = [["广东", "深圳"], ["北京", "海淀"], ["上海", "浦东"], ["浙江", "杭州"], ["四川", "成都"], ["", ""]];
const OFFICIAL = ["腾讯新闻", "微信支付", "人民日报", "Tech Daily", "城市天气", "读书 & 生活", "招商银行", "滴滴出行"];
const TOPICS = ["家人群", "Project <Alpha>", "周末羽毛球", "同学会 2010", "Foo & Bar 开发者", "小区业主群", "读书会", "公司全员"];

export function emojiSpan(code: string): string {
  return `<span class="emoji emoji${code}"></span>`;
}

/** Group sizes by index: small ones for everyday tests, one at 41 (invite rule) and a big one. */
const GROUP_SIZES = [4, 10, 25, 41, 120, 500];

export interface WorldOptions {
  seed: number;
  contacts: number;
  groups: number;
  accounts: number;
}

/** A world as plain JSON (persist.ts): Maps and Sets as arrays of entries. */
export interface WorldSnapshot {
  seed: number;
  rng: number;
  nextId: number;
  persons: Person[];
  groups: (Omit<Group, "displayNames"> & { displayNames: [string, string][] })[];
  accounts: { index: number; personId: string; uin: number; friends: [string, ContactMeta][]; groups: string[]; pinnedGroups: string[] }[];
}

export class World {
  readonly persons = new Map<string, Person>();
  readonly groups = new Map<string, Group>();
  readonly accounts: Account[] = [];
  readonly seed: number;
  private readonly rng: Rng;
  private nextId = 1;

  /** A new world from its seed, or (`saved`) the world a snapshot holds, changes included. */
  constructor(options: WorldOptions, saved?: WorldSnapshot) {
    this.seed = saved?.seed ?? options.seed;
    if (saved) {
      this.rng = new Rng(saved.rng);
      this.nextId = saved.nextId;
      for (const p of saved.persons) this.persons.set(p.id, { ...p });
      for (const g of saved.groups) this.groups.set(g.id, { ...g, members: [...g.members], displayNames: new Map(g.displayNames) });
      for (const a of saved.accounts) {
        this.accounts.push({ index: a.index, personId: a.personId, uin: a.uin, friends: new Map(a.friends), groups: new Set(a.groups), pinnedGroups: new Set(a.pinnedGroups) });
      }
      return;
    }
    this.rng = new Rng(options.seed);
    this.build(Math.max(0, Math.min(10_000, options.contacts)), Math.max(0, options.groups), Math.max(1, options.accounts));
  }

  snapshot(): WorldSnapshot {
    return {
      seed: this.seed,
      rng: this.rng.position,
      nextId: this.nextId,
      persons: [...this.persons.values()].map((p) => ({ ...p })),
      groups: [...this.groups.values()].map((g) => ({ ...g, members: [...g.members], displayNames: [...g.displayNames] })),
      accounts: this.accounts.map((a) => ({ index: a.index, personId: a.personId, uin: a.uin, friends: [...a.friends].map(([id, m]) => [id, { ...m }]), groups: [...a.groups], pinnedGroups: [...a.pinnedGroups] })),
    };
  }

  newId(prefix: string): string {
    return `${prefix}${this.nextId++}`;
  }

  addPerson(fields: Partial<Person> & { nickName: string }, kind: PersonKind = "person"): Person {
    const [province, city] = this.rng.pick(PROVINCES);
    const person: Person = {
      id: this.newId("p"),
      alias: "",
      sex: this.rng.int(0, 2),
      province,
      city,
      signature: "",
      kind,
      verifyFlag: 0,
      ...fields,
    };
    this.persons.set(person.id, person);
    return person;
  }

  private personName(i: number): string {
    const r = this.rng;
    const roll = i % 11;
    if (roll === 3) return `${r.pick(LATIN)} ${emojiSpan(r.pick(EMOJI))}`;
    if (roll === 5) return `${r.pick(LATIN)} <${r.pick(["dev", "ops", "qa"])}>`;
    if (roll === 7) return `${r.pick(LATIN)} & ${r.pick(LATIN)}`;
    if (roll === 9) return `${r.pick(SURNAMES)}${r.pick(GIVEN)}${emojiSpan(r.pick(EMOJI))}`;
    if (roll % 2 === 0) return `${r.pick(SURNAMES)}${r.pick(GIVEN)}${r.chance(0.5) ? r.pick(GIVEN) : ""}`;
    return `${r.pick(LATIN)}${r.chance(0.3) ? ` "${r.pick(["Ace", "Jr", "Doc"])}"` : ""}`;
  }

  private build(contactCount: number, groupCount: number, accountCount: number): void {
    const r = this.rng;
    const specials = SPECIAL_ACCOUNTS.map((name) =>
      this.addPerson({ nickName: name === "filehelper" ? "文件传输助手" : name === "weixin" ? "微信团队" : name === "fmessage" ? "朋友推荐消息" : "腾讯新闻", fixedUserName: name }, "special"),
    );
    const selfNames = ["Sandbox Me", "Second Phone", "Third Phone", "Fourth Phone"];
    for (let a = 0; a < accountCount; a++) {
      const person = this.addPerson({ nickName: selfNames[a] ?? `Phone ${a + 1}`, alias: `wx_phone${a + 1}` });
      this.accounts.push({ index: a, personId: person.id, uin: 2_100_000_000 + r.int(1, 99_999_999), friends: new Map(), groups: new Set(), pinnedGroups: new Set() });
    }
    const main = this.accounts[0] as Account;
    for (const s of specials) for (const acc of this.accounts) acc.friends.set(s.id, { remarkName: "", starred: false });
    // accounts are friends of each other
    for (const a of this.accounts) for (const b of this.accounts) if (a !== b) a.friends.set(b.personId, { remarkName: "", starred: false });

    const friends: Person[] = [];
    for (let i = 0; i < contactCount; i++) {
      const p = this.addPerson({ nickName: this.personName(i), alias: i % 4 === 1 ? `alias_${r.hex(6)}` : "", signature: i % 5 === 0 ? "Hello & <welcome>" : "" });
      friends.push(p);
      const remark = i % 6 === 2 ? `备注${i}` : i % 13 === 4 ? `Remark <${i}> & co` : "";
      main.friends.set(p.id, { remarkName: remark, starred: i % 17 === 0 });
    }
    for (const acc of this.accounts.slice(1)) for (const p of friends.slice(0, 5)) acc.friends.set(p.id, { remarkName: "", starred: false });

    const officialCount = Math.max(3, Math.floor(contactCount / 20));
    for (let i = 0; i < officialCount; i++) {
      const p = this.addPerson({ nickName: OFFICIAL[i % OFFICIAL.length] + (i >= OFFICIAL.length ? ` ${i}` : ""), verifyFlag: i % 2 === 0 ? 8 : 24 }, "official");
      main.friends.set(p.id, { remarkName: "", starred: false });
    }

    const strangers: Person[] = [];
    const stranger = (): Person => {
      const p = this.addPerson({ nickName: this.personName(strangers.length + 3) });
      strangers.push(p);
      return p;
    };
    for (let g = 0; g < groupCount; g++) {
      const size = GROUP_SIZES[g] ?? r.int(5, 60);
      const members = [main.personId];
      if (g === 0) for (const acc of this.accounts.slice(1)) members.push(acc.personId);
      const pool = [...friends];
      while (members.length < size) {
        const fromFriends = pool.length > 0 && r.chance(0.6);
        const p = fromFriends ? pool.splice(r.int(0, pool.length - 1), 1)[0] as Person : stranger();
        members.push(p.id);
      }
      const displayNames = new Map<string, string>();
      for (const id of members) if (r.chance(0.25)) displayNames.set(id, `群昵称${r.int(1, 999)}`);
      if (g === 1) displayNames.set(main.personId, "Me in <group>");
      const group: Group = { id: this.newId("g"), topic: TOPICS[g % TOPICS.length] + (g >= TOPICS.length ? ` ${g}` : ""), members, displayNames, ownerId: members[1] ?? main.personId };
      this.groups.set(group.id, group);
      for (const acc of this.accounts) if (members.includes(acc.personId)) acc.groups.add(group.id);
    }
  }

  person(id: string): Person | undefined {
    return this.persons.get(id);
  }

  accountOfPerson(personId: string): Account | undefined {
    return this.accounts.find((a) => a.personId === personId);
  }

  /** The name an account sees for a person: remark, else nickName. */
  nameFor(account: Account, id: string): string {
    const group = this.groups.get(id);
    if (group) return group.topic;
    const p = this.persons.get(id);
    if (!p) return "";
    return account.friends.get(id)?.remarkName || p.nickName;
  }
}

/** Plain text of a raw name: emoji spans become characters. */
export function plainName(raw: string): string {
  if (!raw.includes("<span")) return raw;
  return raw.replace(/<span class="emoji emoji([0-9a-f]+)"><\/span>/g, (_m, hex: string) => {
    const points = hex.length > 6 ? [hex.slice(0, hex.length / 2), hex.slice(hex.length / 2)] : [hex];
    try {
      return String.fromCodePoint(...points.map((h) => parseInt(h, 16)));
    } catch {
      return "";
    }
  });
}
