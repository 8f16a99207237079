using System.Text.Json.Nodes;

namespace PeftHost.Tests.Chat;

/// <summary>
/// Chat templates and conversations for comparing PeftHost's renderer with the reference: hand-written copies of
/// widely used templates (ChatML, Mistral-instruct, Phi-3, Zephyr, Llama-2-chat, a Llama-3.1-style tool template)
/// and conversations with system prompts, several turns, empty and unicode content, tools and tool calls.
/// </summary>
internal static class ChatTemplateCorpus
{
    public const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    public const string MistralInstruct = """
        {%- if messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content'] %}
            {%- set loop_messages = messages[1:] %}
        {%- else %}
            {%- set loop_messages = messages %}
        {%- endif %}

        {{- bos_token }}
        {%- for message in loop_messages %}
            {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
            {%- endif %}
            {%- if message['role'] == 'user' %}
                {%- if loop.first and system_message is defined %}
                    {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
                {%- else %}
                    {{- ' [INST] ' + message['content'] + ' [/INST]' }}
                {%- endif %}
            {%- elif message['role'] == 'assistant' %}
                {{- ' ' + message['content'] + eos_token}}
            {%- else %}
                {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
            {%- endif %}
        {%- endfor %}

        """;

    public const string Phi3 =
        "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

    public const string Zephyr = """
        {% for message in messages %}
        {% if message['role'] == 'user' %}
        {{ '<|user|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'system' %}
        {{ '<|system|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'assistant' %}
        {{ '<|assistant|>\n'  + message['content'] + eos_token }}
        {% endif %}
        {% if loop.last and add_generation_prompt %}
        {{ '<|assistant|>' }}
        {% endif %}
        {% endfor %}
        """;

    public const string Llama2Chat =
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    /// <summary>The shape of Llama 3.1's tool-calling template: tojson(indent=4), namespace, macros, a call block.</summary>
    public const string Llama31Tools = """
        {{- bos_token }}
        {%- macro header(role) -%}
        <|start_header_id|>{{ role }}<|end_header_id|>{{ '\n\n' }}
        {%- endmacro %}
        {%- macro wrap(tag) -%}
        <{{ tag }}>{{ caller() }}</{{ tag }}>
        {%- endmacro %}
        {%- if not tools_in_user_message is defined %}
            {%- set tools_in_user_message = true %}
        {%- endif %}
        {%- if messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content']|trim %}
            {%- set messages = messages[1:] %}
        {%- else %}
            {%- set system_message = "" %}
        {%- endif %}
        {{- header('system') }}
        {%- if tools is not none %}
            {{- "Environment: ipython\n" }}
        {%- endif %}
        {{- "Cutting Knowledge Date: December 2023\n\n" }}
        {{- system_message }}
        {{- "<|eot_id|>" }}
        {%- set ns = namespace(first_user=true) %}
        {%- for message in messages %}
            {%- if message.role == 'user' and ns.first_user and tools is not none and tools_in_user_message %}
                {%- set ns.first_user = false %}
                {{- header('user') -}}
                {{- "Given the following functions, respond with a JSON function call.\n\n" }}
                {%- for t in tools %}
                    {{- t | tojson(indent=4) }}
                    {{- "\n\n" }}
                {%- endfor %}
                {{- message['content'] | trim + '<|eot_id|>' }}
            {%- elif not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
                {{- header(message['role']) + message['content'] | trim + '<|eot_id|>' }}
            {%- elif 'tool_calls' in message %}
                {%- set tool_call = message.tool_calls[0].function %}
                {{- header('assistant') -}}
                {%- call wrap('call') -%}
                {"name": "{{ tool_call.name }}", "parameters": {{ tool_call.arguments | tojson }}}
                {%- endcall %}
                {{- "<|eot_id|>" }}
            {%- else %}
                {{- header('ipython') }}
                {%- if message.content is mapping or message.content is iterable %}
                    {{- message.content | tojson }}
                {%- else %}
                    {{- message.content }}
                {%- endif %}
                {{- "<|eot_id|>" }}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- header('assistant') }}
        {%- endif %}
        """;

    /// <summary>The hand-written templates by name.</summary>
    public static IReadOnlyDictionary<string, string> HandWritten { get; } = new Dictionary<string, string>
    {
        ["chatml"] = ChatMl,
        ["mistral-instruct"] = MistralInstruct,
        ["phi-3"] = Phi3,
        ["zephyr"] = Zephyr,
        ["llama-2-chat"] = Llama2Chat,
        ["llama-3.1-tools"] = Llama31Tools,
    };

    private static JsonObject Message(string role, string content) => new() { ["role"] = role, ["content"] = content };

    /// <summary>The tools of a tool-calling conversation (OpenAI function schema).</summary>
    public static JsonArray Tools() => JsonNode.Parse("""
        [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city — «now».",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
          "required": ["city"]}}}]
        """)!.AsArray();

    /// <summary>Conversations, by name: (messages, whether to pass tools).</summary>
    public static IEnumerable<(string Name, JsonArray Messages, bool WithTools)> Conversations()
    {
        yield return ("one user turn", [Message("user", "Hello!")], false);
        yield return ("system and user", [Message("system", "You are terse."), Message("user", "What is 2+2?")], false);
        yield return ("multi-turn with system", [
            Message("system", "  You answer in French.  "), Message("user", "Hi"), Message("assistant", "Bonjour !"),
            Message("user", "How are you?\n"), Message("assistant", " Très bien, merci. "), Message("user", "Bye")], false);
        yield return ("ends with assistant", [Message("user", "Name a colour."), Message("assistant", "Blue.")], false);
        yield return ("empty contents", [Message("system", ""), Message("user", ""), Message("assistant", ""), Message("user", " ")], false);
        yield return ("unicode and whitespace", [
            Message("user", "Café ☕ naïve — 日本語のテキスト 🤖👩‍💻\t\"quotes\" and \\backslash\\\n\n  indented\n"),
            Message("assistant", "Ünïcödé réply: ✓ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 <b>not html</b>"), Message("user", "{{ not a template }} {% neither %}")], false);
        yield return ("thinking", [
            Message("user", "Think first."), Message("assistant", "<think>\nLet me see.\n</think>\n\nThe answer is 4."),
            Message("user", "Again?")], false);
        var toolCall = JsonNode.Parse("""
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}]}
            """)!.AsObject();
        var toolCallText = JsonNode.Parse("""
            {"role": "assistant", "content": "Checking.", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]}
            """)!.AsObject();
        yield return ("tools", [
            Message("system", "Use tools when needed."), Message("user", "Weather in Zürich?"), toolCall,
            Message("tool", "{\"temp\": 21.5, \"sky\": \"clear\"}"), Message("tool", "second result"),
            Message("assistant", "It is 21.5 °C and clear."), Message("user", "And Oslo?"), toolCallText], true);
        yield return ("tools without system", [Message("user", "Weather?")], true);
        yield return ("roles out of order", [Message("assistant", "I speak first."), Message("user", "Odd.")], false);
        yield return ("content parts", [JsonNode.Parse("""
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "  Describe this.  "}]}
            """)!.AsObject()], false);
    }
}
