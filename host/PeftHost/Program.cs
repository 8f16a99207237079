using PeftHost.Cli.Commands;
using PeftHost.Core.Runtime;

// The mmap-threshold fix must precede libtorch's first allocation.
NativeRuntime.Initialize();
return PeftCli.Run(args);
