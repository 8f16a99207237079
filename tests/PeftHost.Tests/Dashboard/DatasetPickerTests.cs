using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Recipes panel's dataset chooser: the data files, a preview of the first examples (text, instruction, chat), picking into the form.</summary>
public sealed class DatasetPickerTests : IDisposable
{
    private readonly TempDir _workspace = new();

    public DatasetPickerTests()
    {
        Directory.CreateDirectory(_workspace["data/chat"]);
        File.WriteAllText(_workspace["data/README.md"], "# data");
        File.WriteAllText(_workspace["data/chat/LICENSE"], "CC0");
        File.WriteAllText(_workspace["data/stories.txt"], "The first story.\nIt has two lines.\n\nThe second story.\n\nThe third.\n\nThe fourth is not shown.\n");
        File.WriteAllText(_workspace["data/chat/talk.jsonl"],
            """{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi?"},{"role":"assistant","content":"Hello."}]}""" + "\n" +
            """{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}""" + "\n");
        File.WriteAllText(_workspace["data/chat/mixed.jsonl"], File.ReadAllText(_workspace["data/chat/talk.jsonl"]) +
            """{"conversations":[{"from":"human","value":"2+2?"},{"from":"gpt","value":"4"}]}""" + "\n");
        File.WriteAllText(_workspace["data/alpaca.jsonl"], """{"instruction":"Add","input":"2 and 2","output":"4"}""" + "\n");
        File.WriteAllText(_workspace["data/labels.csv"], "subject,verdict\nWin money,spam\n");
        File.WriteAllText(_workspace["data/broken.jsonl"], """{"text":"fine"}""" + "\n{not json\n");
    }

    public void Dispose() => _workspace.Dispose();

    private static RecipeParameterForm Form(string source = """const p = defineParams({ model: "models/none", dataset: "data/stories.txt", steps: 4 });""") =>
        new(RecipeParameterReader.Read(source));

    private DatasetPickerViewModel Picker(string? model = null) => new(new DatasetCatalog(_workspace.Path), () => model);

    [Fact]
    public void Lists_the_data_files_of_the_workspace_relative_to_it_without_readmes_or_licences()
    {
        var picker = Picker();
        Assert.True(picker.Open(Form()));
        Assert.Equal(["data/alpaca.jsonl", "data/broken.jsonl", "data/chat/mixed.jsonl", "data/chat/talk.jsonl", "data/labels.csv", "data/stories.txt"], picker.Files);
        Assert.Equal("data/stories.txt", picker.Path);
        Assert.Equal(5, picker.SelectedIndex);
    }

    [Fact]
    public void Text_files_preview_their_first_paragraphs_as_loadDataset_splits_them()
    {
        var picker = Picker();
        picker.Open(Form());
        Assert.Equal("text", picker.Preview.Format);
        Assert.Equal(["The first story.\nIt has two lines.", "The second story.", "The third."], picker.Preview.Examples.Select(e => e.Text));
        var lines = picker.PreviewLines();
        Assert.Equal("data/stories.txt · text · first 3", lines[0]);
        Assert.Contains("── line 1 ──", lines);
        Assert.DoesNotContain(lines, l => l.Contains("fourth"));
    }

    [Fact]
    public void Chat_data_is_rendered_with_the_model_chat_template_or_turn_by_turn_saying_why()
    {
        using var model = new TempDir();
        File.WriteAllText(model["chat_template.jinja"], "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}");
        var picker = Picker(model.Path);
        picker.Open(Form("""const p = defineParams({ trainDataset: "data/chat/talk.jsonl" });"""));
        Assert.Equal("chat (messages)", picker.Preview.Format);
        Assert.Equal("<system>Be brief.\n<user>Hi?\n<assistant>Hello.\n", picker.Preview.Examples[0].Text);
        Assert.StartsWith("rendered with " + model["chat_template.jinja"], picker.Preview.Note);

        // The recipe's own model field wins over the dashboard's model: this one has no template.
        using var plain = new TempDir();
        picker = Picker(model.Path);
        picker.Open(Form($$"""const p = defineParams({ model: "{{plain.Path}}", dataset: "data/chat/talk.jsonl" });"""));
        Assert.Equal("system: Be brief.\nuser: Hi?\nassistant: Hello.", picker.Preview.Examples[0].Text);
        Assert.Equal($"shown turn by turn: {Path.GetFileName(plain.Path)} has no chat template", picker.Preview.Note);
    }

    [Fact]
    public void Instruction_data_shows_its_instruction_input_and_output()
    {
        var picker = Picker();
        picker.Open(Form());
        picker.Select(picker.Files.ToList().IndexOf("data/alpaca.jsonl"));
        Assert.Equal("instruction", picker.Preview.Format);
        Assert.Equal("instruction: Add\ninput: 2 and 2\noutput: 4", Assert.Single(picker.Preview.Examples).Text);
    }

    [Fact]
    public void Fields_of_no_known_format_are_shown_with_what_the_recipe_must_say()
    {
        var picker = Picker();
        picker.Open(Form());
        picker.Path = "data/labels.csv";
        Assert.Null(picker.Preview.Format);
        Assert.Equal("subject: Win money\nverdict: spam", Assert.Single(picker.Preview.Examples).Text);
        Assert.Contains("cannot be told from the fields (subject, verdict)", picker.Preview.Note);
    }

    [Fact]
    public void A_bad_or_missing_file_is_named_and_cannot_be_picked()
    {
        var form = Form();
        var picker = Picker();
        picker.Open(form);
        picker.Path = "data/broken.jsonl";
        Assert.Contains("broken.jsonl:2", picker.Preview.Error);
        Assert.False(picker.Pick().Started);
        picker.Path = "data/chat/mixed.jsonl"; // the layout is the first record's, as loadDataset reads it
        Assert.Contains("mixed.jsonl:3: missing field 'messages'", picker.Preview.Error);
        picker.Path = "data/nothing.jsonl";
        Assert.StartsWith("✗ " + _workspace["data/nothing.jsonl"] + ": no such file", picker.PreviewLines()[0]);
        var refused = picker.Pick();
        Assert.False(refused.Started);
        Assert.Contains("cannot use data/nothing.jsonl", refused.Message);
        Assert.True(picker.IsOpen);
        Assert.Empty(form.SetValues());
    }

    [Fact]
    public void Picking_sets_the_dataset_field_which_becomes_a_set_value_and_a_typed_path_outside_data_works_too()
    {
        var form = Form();
        var picker = Picker();
        picker.Open(form);
        picker.Select(picker.Files.ToList().IndexOf("data/chat/talk.jsonl"));
        var picked = picker.Pick();
        Assert.True(picked.Started, picked.Message);
        Assert.Equal("dataset = data/chat/talk.jsonl", picked.Message);
        Assert.False(picker.IsOpen);
        Assert.Equal(["dataset=data/chat/talk.jsonl"], form.SetValues());

        string outside = Path.Combine(_workspace.Path, "elsewhere.txt");
        File.WriteAllText(outside, "Somewhere else.");
        picker.Open(form);
        Assert.Equal("data/chat/talk.jsonl", picker.Path);
        picker.Path = outside;
        Assert.Equal(-1, picker.SelectedIndex);
        Assert.Equal("Somewhere else.", Assert.Single(picker.Preview.Examples).Text);
        Assert.True(picker.Pick().Started);
        Assert.Equal([$"dataset={outside}"], form.SetValues());
    }

    [Fact]
    public void A_recipe_without_a_dataset_parameter_has_no_chooser_and_closing_changes_nothing()
    {
        var picker = Picker();
        Assert.False(picker.Open(Form("""const p = defineParams({ steps: 4, model: "models/stories260k" });""")));
        Assert.False(picker.IsOpen);

        var form = Form();
        picker.Open(form);
        picker.Path = "data/alpaca.jsonl";
        picker.Close();
        Assert.Empty(form.SetValues());
    }

    [Fact]
    public void The_sft_recipe_declares_a_dataset_the_bundled_data_previews_for()
    {
        string source = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "recipes", "sft.js"));
        var form = new RecipeParameterForm(RecipeParameterReader.Read(source));
        var picker = new DatasetPickerViewModel(new DatasetCatalog(TestPaths.RepoRoot), () => null);
        Assert.True(picker.Open(form));
        Assert.Contains("data/spamassassin/spamassassin.jsonl.gz", picker.Files);
        Assert.Equal("data/moby-dick.txt", picker.Path);
        Assert.Equal("text", picker.Preview.Format);
        Assert.Equal(DatasetPickerViewModel.PreviewCount, picker.Preview.Examples.Count);
    }
}
