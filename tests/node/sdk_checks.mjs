// The real `openai` Node SDK against the proxy's OpenAI-compatible routes.
// Run by tests/proxy/test_openai_node_sdk.py with PROXY_URL and PROXY_TOKEN set; prints
// "ok <check>" for each check that passed and exits non-zero on the first that fails.
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = `${process.env.PROXY_URL}/v1`;
const apiKey = process.env.PROXY_TOKEN;
const managedKey = process.env.MANAGED_KEY;
const customerKey = process.env.CUSTOMER_KEY;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const FAST = { embedded: { token_delay: 0, first_token_delay: 0 } };
const user = (text) => [{ role: "user", content: text }];
const fail = (type, status, extra = {}) => ({
  provider_kwargs: { embedded: { ...FAST.embedded, error: { type, status, ...extra } } },
});
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

async function rejects(promise, ErrorClass) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err}`);
    return err;
  }
  assert.fail(`expected ${ErrorClass.name}, but the call succeeded`);
}

const checks = {
  async text() {
    const answer = await client.chat.completions.create({
      model: "embedded/embedded-1",
      messages: [{ role: "system", content: "Be brief." }, ...user("Hello from Node")],
      max_tokens: 100,
      provider_kwargs: FAST,
    });
    assert.equal(answer.object, "chat.completion");
    assert.equal(answer.model, "embedded/embedded-1");
    assert.match(answer.choices[0].message.content, /Hello from Node/);
    assert.equal(answer.choices[0].finish_reason, "stop");
    assert.equal(answer.usage.total_tokens, answer.usage.prompt_tokens + answer.usage.completion_tokens);
  },

  async stream() {
    const stream = await client.chat.completions.create({
      model: "fast",
      messages: user("Stream to Node"),
      stream: true,
      stream_options: { include_usage: true },
      provider_kwargs: FAST,
    });
    let text = "";
    const finishes = [];
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.choices.length) {
        text += chunk.choices[0].delta.content ?? "";
        if (chunk.choices[0].finish_reason) finishes.push(chunk.choices[0].finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.match(text, /Stream to Node/);
    assert.deepEqual(finishes, ["stop"]);
    assert.ok(usage && usage.completion_tokens > 0);
  },

  async streamed_tool_call() {
    const stream = client.chat.completions.stream({
      model: "embedded/embedded-1",
      messages: user("check get_weather please"),
      tools: [weatherTool],
      provider_kwargs: FAST,
    });
    let argumentDeltas = 0;
    stream.on("tool_calls.function.arguments.delta", () => argumentDeltas++);
    const final = await stream.finalChatCompletion();
    assert.ok(argumentDeltas > 0);
    const call = final.choices[0].message.tool_calls[0];
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "example" });
  },

  async structured_output() {
    const answer = await client.chat.completions.create({
      model: "embedded/embedded-1",
      messages: user("the weather as JSON"),
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "weather",
          strict: true,
          schema: {
            type: "object",
            properties: { city: { type: "string" }, temperature: { type: "integer" } },
            required: ["city", "temperature"],
            additionalProperties: false,
          },
        },
      },
      provider_kwargs: FAST,
    });
    const parsed = JSON.parse(answer.choices[0].message.content);
    assert.equal(typeof parsed.city, "string");
    assert.ok(Number.isInteger(parsed.temperature));
  },

  async errors() {
    const bad = new OpenAI({ baseURL, apiKey: "wrong-token-0123456789", maxRetries: 0 });
    const unauthorized = await rejects(bad.chat.completions.create({ model: "embedded/m", messages: user("hi") }), OpenAI.AuthenticationError);
    assert.equal(unauthorized.status, 401);
    const unsupported = await rejects(client.chat.completions.create({ model: "embedded/m", messages: user("hi"), n: 3 }), OpenAI.BadRequestError);
    assert.equal(unsupported.param, "n");
    assert.equal(unsupported.code, "unsupported_parameter");
    const missing = await rejects(client.chat.completions.create({ model: "no-such-model", messages: user("hi") }), OpenAI.NotFoundError);
    assert.equal(missing.code, "model_not_found");
    const limited = await rejects(
      client.chat.completions.create({ model: "embedded/m", messages: user("hi"), ...fail("rate_limit_error", 429) }),
      OpenAI.RateLimitError,
    );
    assert.equal(limited.status, 429);
    const broken = await rejects(
      client.chat.completions.create({ model: "embedded/m", messages: user("hi"), stream: true, ...fail("provider_error", 500) }),
      OpenAI.InternalServerError,
    );
    assert.equal(broken.status, 502);
  },

  async error_mid_stream() {
    const stream = await client.chat.completions.create({
      model: "embedded/m",
      messages: user("fail midway"),
      stream: true,
      ...fail("provider_error", 500, { after_tokens: 2, message: "upstream broke mid-answer" }),
    });
    let received = 0;
    const err = await rejects(
      (async () => {
        for await (const chunk of stream) received += chunk.choices.length;
      })(),
      OpenAI.APIError,
    );
    assert.equal(received, 2);
    assert.match(err.message, /upstream broke mid-answer/);
  },

  async fallback_across_providers() {
    const answer = await client.chat.completions.create({
      model: "embedded/m",
      messages: user("hi"),
      ...fail("overloaded_error", 503),
      fallbacks: [{ model: "keyed/k-1" }],
    });
    assert.equal(answer.model, "keyed/k-1");
    assert.equal(answer.choices[0].message.content, `source=managed key_len=${managedKey.length}`);
  },

  async customer_key_header() {
    const answer = await client.chat.completions.create(
      { model: "keyed/k-1", messages: user("hi") },
      { headers: { "X-Provider-Api-Key": customerKey } },
    );
    assert.equal(answer.choices[0].message.content, `source=customer key_len=${customerKey.length}`);
  },

  async sentences() {
    const stream = await client.chat.completions.create({
      model: "embedded/m",
      messages: user("Talk to me"),
      stream: true,
      provider_kwargs: FAST,
      sentences: true,
    });
    const sentences = [];
    for await (const chunk of stream) if (chunk.sentence) sentences.push(chunk.sentence);
    assert.ok(sentences.length >= 3, `got ${sentences.length} sentences`);
    assert.match(sentences[0], /^You said: Talk to me/);
  },

  async models() {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.ok(ids.includes("fast") && ids.includes("embedded/*"), ids.join(","));
  },

  async disconnect_mid_stream() {
    const stream = await client.chat.completions.create({ model: "hanging/h", messages: user("hi"), stream: true });
    for await (const chunk of stream) {
      assert.equal(chunk.choices[0].delta.content, "Hello. ");
      break; // leaving the loop aborts the request
    }
  },
};

for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
  } catch (err) {
    console.error(`FAILED ${name}: ${err?.stack ?? err}`);
    process.exit(1);
  }
  console.log(`ok ${name}`);
}
