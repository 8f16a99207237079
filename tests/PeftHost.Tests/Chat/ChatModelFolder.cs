using PeftHost.Tests.Support;
namespace PeftHost.Tests.Chat;

/// <summary>A copy of the bundled stories260k model with a chat template added (it ships without one).</summary>
internal sealed class ChatModelFolder : IDisposable
{
    /// <summary>A ChatML-style template in plain words (stories260k's vocabulary is tiny): system prompt, turns, generation prompt.</summary>
    public const string Template = """
        {%- for m in messages %}
            {%- if m.role == 'system' %}{{ m.content | trim }}
        {% elif m.role == 'user' %}Q: {{ m.content | trim }}
        {% elif m.role == 'assistant' %}A:{{ m.content }}{{ eos_token }}
        {% else %}{{ raise_exception('Only system, user and assistant roles are supported') }}
        {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}A:{% endif %}
        """;

    private readonly TempDir? _dir;

    /// <summary>Creates the folder "model" under <paramref name="parent"/> (a temporary folder when null).</summary>
    public ChatModelFolder(string? parent = null, string? template = Template)
    {
        if (parent is null) _dir = new TempDir();
        Parent = parent ?? _dir!.Path;
        Path = System.IO.Path.Combine(Parent, "model");
        Directory.CreateDirectory(Path);
        foreach (var file in Directory.GetFiles(TestPaths.Stories260k))
            File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)));
        if (template is not null) File.WriteAllText(System.IO.Path.Combine(Path, "chat_template.jinja"), template);
    }

    public string Path { get; }

    /// <summary>The folder holding the model folder (a place for other test files).</summary>
    public string Parent { get; }

    public void Dispose() => _dir?.Dispose();
}
