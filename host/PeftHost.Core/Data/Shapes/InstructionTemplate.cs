namespace PeftHost.Core.Data;

/// <summary>
/// How an instruction (and optional input) becomes the prompt in front of a response. Placeholders:
/// <c>{prompt}</c> and <c>{input}</c>. The response follows the prompt directly, then EOS.
/// </summary>
/// <param name="Name">A name for cache keys and messages.</param>
/// <param name="WithInput">The prompt when an input is present.</param>
/// <param name="WithoutInput">The prompt when there is none.</param>
public sealed record InstructionTemplate(string Name, PromptTemplate WithInput, PromptTemplate WithoutInput)
{
    /// <summary>The Stanford Alpaca prompt.</summary>
    public static InstructionTemplate Alpaca { get; } = new("alpaca",
        new PromptTemplate("Below is an instruction that describes a task, paired with an input that provides further context. " +
                           "Write a response that appropriately completes the request.\n\n" +
                           "### Instruction:\n{prompt}\n\n### Input:\n{input}\n\n### Response:\n"),
        new PromptTemplate("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
                           "### Instruction:\n{prompt}\n\n### Response:\n"));

    /// <summary>A simple chat turn: <c>&lt;|user|&gt;</c> message, then <c>&lt;|assistant|&gt;</c>.</summary>
    public static InstructionTemplate Chat { get; } = new("chat",
        new PromptTemplate("<|user|>\n{prompt}\n\n{input}\n<|assistant|>\n"),
        new PromptTemplate("<|user|>\n{prompt}\n<|assistant|>\n"));

    /// <summary>A template of one's own; without an <c>{input}</c> placeholder, inputs are appended to the prompt after a blank line.</summary>
    public static InstructionTemplate Custom(string template)
    {
        var parsed = new PromptTemplate(template);
        var withInput = parsed.Fields.Contains("input") ? parsed : new PromptTemplate(template.Replace("{prompt}", "{prompt}\n\n{input}"));
        var withoutInput = new PromptTemplate(template.Replace("{input}", ""));
        return new InstructionTemplate("custom:" + template, withInput, withoutInput);
    }

    /// <summary>The prompt for <paramref name="prompt"/> and <paramref name="input"/> (null or empty: none).</summary>
    public string Format(string prompt, string? input) => string.IsNullOrEmpty(input)
        ? WithoutInput.Format(f => f == "prompt" ? prompt : "")
        : WithInput.Format(f => f == "prompt" ? prompt : f == "input" ? input : "");
}
