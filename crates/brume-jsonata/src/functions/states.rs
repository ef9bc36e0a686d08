//! The functions Step Functions adds to JSONata: `$partition`, `$range`, `$hash`,
//! `$random` (with an optional seed), `$uuid` and `$parse`.

use brume_crypto::Md5;
use rand::{Rng, SeedableRng};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::{Args, arg, num_arg, str_arg};
use crate::Error;
use crate::errors::error_message;
use crate::eval::Evaluator;
use crate::value::Value;

type Res = Result<Option<Value>, Error>;

pub(super) fn partition(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let size = num_arg(args, 1).unwrap_or(0.0);
    if size < 1.0 || size.fract() != 0.0 {
        return Err(error_message("D3137", 0, "The $partition() function requires a positive integer size"));
    }
    let items = v.clone().into_items();
    Ok(Some(Value::array(items.chunks(size as usize).map(|c| Value::array(c.to_vec())).collect())))
}

pub(super) fn range(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let (Some(start), Some(end), Some(step)) = (num_arg(args, 0), num_arg(args, 1), num_arg(args, 2)) else {
        return Ok(None);
    };
    if step == 0.0 {
        return Err(error_message("D3137", 0, "The $range() function requires a non-zero step"));
    }
    let count = ((end - start) / step).floor();
    if count > 1e7 {
        return Err(error_message("D3137", 0, "The $range() function would create more than 10000000 items"));
    }
    let items = (0..=count.max(-1.0) as i64).map(|i| Value::Number(start + i as f64 * step)).collect();
    Ok(Some(Value::array(items)))
}

pub(super) fn hash(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let (Some(data), Some(algorithm)) = (str_arg(args, 0), str_arg(args, 1)) else { return Ok(None) };
    let bytes = data.as_bytes();
    let digest = match algorithm {
        "MD5" => hex::encode(Md5::digest(bytes)),
        "SHA-1" => hex::encode(Sha1::digest(bytes)),
        "SHA-256" => hex::encode(Sha256::digest(bytes)),
        "SHA-384" => hex::encode(Sha384::digest(bytes)),
        "SHA-512" => hex::encode(Sha512::digest(bytes)),
        other => {
            return Err(error_message(
                "D3137",
                0,
                &format!("The hash algorithm {other} is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"),
            ));
        }
    };
    Ok(Some(Value::string(&digest)))
}

pub(super) fn random(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let n = match num_arg(args, 0) {
        Some(seed) => rand::rngs::StdRng::seed_from_u64(seed.to_bits()).random::<f64>(),
        None => rand::random::<f64>(),
    };
    Ok(Some(Value::Number(n)))
}

pub(super) fn uuid(_: &mut Evaluator, _: Args<'_>, _: Option<&Value>) -> Res {
    Ok(Some(Value::string(&uuid::Uuid::new_v4().to_string())))
}

pub(super) fn parse(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let json: serde_json::Value =
        serde_json::from_str(s).map_err(|e| error_message("D3137", 0, &format!("Unable to parse JSON: {e}")))?;
    Ok(Some(Value::from_json(&json)))
}
