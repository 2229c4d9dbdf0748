import { strict as assert } from "node:assert";
import { WeChatError, errorText, isWeChatError } from "../../lib/wechat/errors";

describe("errors", () => {
  it("errorText is the one way a caught value becomes words: an Error's message, else the fallback or the value (#15.6)", () => {
    assert.equal(errorText(new WeChatError("NETWORK", "down")), "down");
    assert.equal(errorText(new TypeError("bad")), "bad");
    assert.equal(errorText("plain string"), "plain string");
    assert.equal(errorText(42), "42");
    assert.equal(errorText(undefined, "failed"), "failed");
    assert.equal(errorText(new Error("kept"), "failed"), "kept", "an Error's message wins over the fallback");
  });

  it("isWeChatError checks the type and, when given, the code", () => {
    const error = new WeChatError("TOO_LARGE", "big");
    assert.equal(isWeChatError(error), true);
    assert.equal(isWeChatError(error, "TOO_LARGE"), true);
    assert.equal(isWeChatError(error, "NETWORK"), false);
    assert.equal(isWeChatError(new Error("big")), false);
  });
});
