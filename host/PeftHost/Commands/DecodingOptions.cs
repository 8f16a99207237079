using System.CommandLine;
using PeftHost.Core.Generation;

namespace PeftHost.Cli.Commands;

/// <summary>
/// The decoding options of the commands that generate text (<c>peft generate</c>, <c>peft chat</c>):
/// --max-new-tokens, --temperature, --top-k, --top-p, --repetition-penalty, --seed, each checked while parsing.
/// </summary>
internal sealed class DecodingOptions
{
    private readonly Option<int> _maxNew;
    private readonly Option<double> _temperature = new Option<double>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8 }
        .Check(v => new GenerationOptions { Temperature = v }.Validate());
    private readonly Option<int> _topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens (0 = all)", DefaultValueFactory = _ => 0 }
        .Check(v => new GenerationOptions { TopK = v }.Validate());
    private readonly Option<double> _topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold (1 = off)", DefaultValueFactory = _ => 0.9 }
        .Check(v => new GenerationOptions { TopP = v }.Validate());
    private readonly Option<double> _penalty = new Option<double>("--repetition-penalty") { Description = "Penalty on repeated tokens (1 = off)", DefaultValueFactory = _ => 1.0 }
        .Check(v => new GenerationOptions { RepetitionPenalty = v }.Validate());
    private readonly Option<long?> _seed = new("--seed") { Description = "Random seed for sampling" };

    /// <param name="maxNewTokens">The default of --max-new-tokens.</param>
    /// <param name="maxNewDescription">What --max-new-tokens bounds, for --help.</param>
    public DecodingOptions(int maxNewTokens, string maxNewDescription) =>
        _maxNew = new Option<int>("--max-new-tokens", "-n") { Description = maxNewDescription, DefaultValueFactory = _ => maxNewTokens }
            .Check(v => new GenerationOptions { MaxNewTokens = v }.Validate());

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { _maxNew, _temperature, _topK, _topP, _penalty, _seed }) command.Options.Add(option);
    }

    /// <summary>The options as parsed.</summary>
    public GenerationOptions Read(ParseResult parse) => new()
    {
        MaxNewTokens = parse.GetValue(_maxNew),
        Temperature = parse.GetValue(_temperature),
        TopK = parse.GetValue(_topK),
        TopP = parse.GetValue(_topP),
        RepetitionPenalty = parse.GetValue(_penalty),
        Seed = parse.GetValue(_seed),
    };
}
