using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training;

/// <summary>An event of one training run (its step, evaluation, checkpoint or finish), told apart from other runs' by <see cref="RunId"/>.</summary>
public interface ITrainingRunEvent : IHostEvent
{
    /// <summary>The run.</summary>
    string RunId { get; }
}
