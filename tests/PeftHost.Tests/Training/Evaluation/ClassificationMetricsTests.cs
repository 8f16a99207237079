using PeftHost.Core.Evaluation;

namespace PeftHost.Tests.Training.Evaluation;

public class ClassificationMetricsTests
{
    [Fact]
    public void Precision_recall_and_f1_match_a_hand_computed_confusion_matrix()
    {
        var m = new ConfusionMatrix(["spam", "ham"]);
        m.Add("spam", "spam", 8);
        m.Add("spam", "ham", 2);
        m.Add("ham", "spam", 1);
        m.Add("ham", "ham", 9);

        Assert.Equal(20, m.Total);
        Assert.Equal(0.85, m.Accuracy, 12);
        var spam = m.For("spam");
        Assert.Equal(8.0 / 9, spam.Precision, 12);
        Assert.Equal(0.8, spam.Recall, 12);
        Assert.Equal(16.0 / 19, spam.F1, 12);          // 2·(8/9)·0.8 / (8/9 + 0.8)
        Assert.Equal(10, spam.Support);
        var ham = m.For("ham");
        Assert.Equal(9.0 / 11, ham.Precision, 12);
        Assert.Equal(0.9, ham.Recall, 12);
        Assert.Equal(6.0 / 7, ham.F1, 12);             // 2·(9/11)·0.9 / (9/11 + 0.9)
        Assert.Equal((16.0 / 19 + 6.0 / 7) / 2, m.MacroF1, 12);

        var metrics = m.ToMetrics("eval_", positiveLabel: "spam");
        Assert.Equal(0.85, metrics["eval_accuracy"], 12);
        Assert.Equal(16.0 / 19, metrics["eval_f1"], 12);
        Assert.Equal(0.8, metrics["eval_recall"], 12);
        Assert.Equal(6.0 / 7, metrics["eval_ham_f1"], 12);
    }

    [Fact]
    public void A_class_never_predicted_has_zero_precision_not_a_division_error()
    {
        var m = new ConfusionMatrix(["a", "b", "c"]);
        m.Add("a", "a", 3);
        m.Add("c", "a", 2);
        m.Add("b", "b", 1);
        var c = m.For("c");
        Assert.Equal(0, c.Precision);
        Assert.Equal(0, c.Recall);
        Assert.Equal(0, c.F1);
        Assert.Equal(0.6, m.For("a").Precision, 12);
        Assert.Equal(4.0 / 6, m.Accuracy, 12);
        Assert.Throws<ArgumentException>(() => m.Add("a", "zzz"));
        Assert.Contains("gold \\ predicted", m.ToString());
    }
}
